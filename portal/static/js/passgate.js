/*
 * Passgate front-end behaviour (plain ES2020, no build step).
 *
 * Load after htmx:  <script src="/static/vendor/htmx-4.0.1.min.js" defer></script>
 *                   <script src="/static/js/passgate.js" defer></script>
 *
 * Works under  default-src 'self'; script-src 'self'; style-src 'self'
 * (no inline handlers, no eval, no style attributes). Everything is wired by
 * event delegation on `document`, so markup swapped in by htmx works too.
 * See docs/frontend.md for the data-* attribute contract.
 */
(() => {
  "use strict";

  const doc = document;
  const TICK_MS = 1000;
  const COPIED_MS = 2000;

  /* ------------------------------------------------------------------ */
  /* Helpers                                                             */
  /* ------------------------------------------------------------------ */

  /** querySelector that never throws on a bad selector from markup. */
  function find(selector, root = doc) {
    if (!selector) return null;
    try {
      return root.querySelector(selector);
    } catch (_) {
      return null;
    }
  }

  /** Root itself (if it matches) plus its matching descendants. */
  function findAllIn(root, selector) {
    const out = [];
    if (!root || root.nodeType !== 1) {
      if (root && root.querySelectorAll) out.push(...root.querySelectorAll(selector));
      return out;
    }
    if (root.matches(selector)) out.push(root);
    out.push(...root.querySelectorAll(selector));
    return out;
  }

  function csrfToken() {
    const meta = doc.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function isSameOrigin(url) {
    try {
      return new URL(url || "", doc.baseURI).origin === location.origin;
    } catch (_) {
      return false;
    }
  }

  /* ------------------------------------------------------------------ */
  /* htmx integration                                                    */
  /* ------------------------------------------------------------------ */

  function blockedEval() {
    return new Error("Passgate: inline JavaScript in htmx attributes is disabled (CSP)");
  }

  /*
   * htmx 4 has no `allowEval` switch. It only compiles code (new Function) for
   * hx-on:*, trigger filters like click[ctrlKey], and js:/javascript: values of
   * hx-vals / hx-headers / hx-confirm / request URLs. Under our CSP that would
   * throw a CSP violation; instead we swap htmx's Function constructors (the
   * same internal hook the shipped hx-csp extension uses) for ones that refuse:
   * a trigger filter evaluates to false, anything async rejects, so the request
   * is not sent and htmx fires htmx:error.
   */
  function hardenHtmx(htmx) {
    if (!htmx || typeof htmx.registerExtension !== "function") return;
    const SyncBlocked = function () {
      return {
        call() {
          console.error(blockedEval().message);
          return false;
        },
      };
    };
    const AsyncBlocked = function () {
      return {
        call() {
          return Promise.reject(blockedEval());
        },
      };
    };
    htmx.registerExtension("passgate", {
      init(api) {
        if (api && typeof api.initSecurity === "function") {
          api.initSecurity(null, SyncBlocked, AsyncBlocked);
        }
      },
    });
  }

  /* Add X-CSRFToken to every same-origin htmx request (htmx 4 event name). */
  doc.addEventListener("htmx:config:request", (evt) => {
    const request = evt.detail && evt.detail.ctx && evt.detail.ctx.request;
    if (!request || !request.headers) return;
    if (!isSameOrigin(request.action)) return;
    const token = csrfToken();
    if (token) request.headers["X-CSRFToken"] = token;
  });

  /* Server error / network failure: reveal an optional [data-htmx-error] banner. */
  function showRequestError() {
    for (const el of doc.querySelectorAll("[data-htmx-error]")) el.hidden = false;
  }
  doc.addEventListener("htmx:response:error", (evt) => {
    const ctx = evt.detail && evt.detail.ctx;
    const status = ctx && ctx.response ? ctx.response.status : 0;
    if (status >= 500) showRequestError();
  });
  doc.addEventListener("htmx:error", (evt) => {
    const d = evt.detail || {};
    // Network errors / timeouts carry a ctx (request side); ignore aborts.
    if (d.ctx && d.error && d.error.name !== "AbortError") showRequestError();
  });
  doc.addEventListener("htmx:before:request", () => {
    for (const el of doc.querySelectorAll("[data-htmx-error]")) el.hidden = true;
  });

  /* Step-up re-authentication: a 401 carrying HX-Reauth appends a password dialog; when
   * the dialog's own request succeeds (HX-Reauthenticated), remove it and replay the
   * request that was refused, from the same element (same target and swap). */
  let replayElement = null;
  doc.addEventListener("htmx:after:request", (evt) => {
    const ctx = evt.detail && evt.detail.ctx;
    const headers = ctx && ctx.response && ctx.response.headers;
    if (!headers) return;
    if (headers.get("HX-Reauth") === "true") {
      replayElement = ctx.sourceElement;
    } else if (headers.get("HX-Reauthenticated") === "true") {
      const dialog = ctx.sourceElement && ctx.sourceElement.closest("dialog");
      if (dialog) {
        if (dialog.open) dialog.close();
        dialog.remove();
      }
      const element = replayElement;
      replayElement = null;
      if (element && element.isConnected) {
        if (element.tagName === "FORM" && element.requestSubmit) element.requestSubmit();
        else element.click();
      }
    }
  });

  /* ------------------------------------------------------------------ */
  /* Countdown                                                           */
  /* ------------------------------------------------------------------ */

  const countdowns = new Map(); // element -> deadline (ms since epoch)
  let ticker = null;

  /* M:SS under an hour; with data-hours-format / data-days-format ("{h} h {m} min",
   * "{d} d {h} h", translated by the page) longer lifetimes read in hours or days. */
  function formatDuration(totalSeconds, el) {
    const s = Math.max(0, Math.floor(totalSeconds));
    const d = Math.floor(s / 86400);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    const daysFormat = el && el.getAttribute("data-days-format");
    const hoursFormat = el && el.getAttribute("data-hours-format");
    if (d > 0 && daysFormat) return daysFormat.replace("{d}", d).replace("{h}", h % 24);
    if (h > 0 && hoursFormat) return hoursFormat.replace("{h}", h).replace("{m}", m);
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function expireCountdown(el) {
    countdowns.delete(el);
    const expiredText = el.getAttribute("data-expired-text");
    if (expiredText !== null) el.textContent = expiredText;
    el.classList.add("is-expired");
    const form = find(el.getAttribute("data-countdown-form"));
    if (form) {
      for (const ctl of form.querySelectorAll("input, button, select, textarea")) {
        ctl.disabled = true;
      }
      form.setAttribute("aria-disabled", "true");
    }
    const reveal = find(el.getAttribute("data-expired-show"));
    if (reveal) reveal.removeAttribute("hidden");
  }

  function renderCountdown(el, now) {
    const remaining = Math.ceil((countdowns.get(el) - now) / 1000);
    if (remaining <= 0) {
      expireCountdown(el);
    } else {
      el.textContent = formatDuration(remaining, el);
    }
  }

  function tick() {
    const now = Date.now();
    for (const el of [...countdowns.keys()]) {
      if (!el.isConnected) {
        countdowns.delete(el);
        continue;
      }
      renderCountdown(el, now);
    }
    if (countdowns.size === 0 && ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function initCountdowns(root) {
    for (const el of findAllIn(root, "[data-countdown]")) {
      if (countdowns.has(el) || el.classList.contains("is-expired")) continue;
      const seconds = Number.parseFloat(el.getAttribute("data-seconds"));
      if (!Number.isFinite(seconds)) continue;
      // Deadline from the server's "seconds remaining" so timer throttling in
      // background tabs cannot make the display drift.
      countdowns.set(el, Date.now() + seconds * 1000);
      renderCountdown(el, Date.now());
    }
    if (countdowns.size > 0 && ticker === null) ticker = setInterval(tick, TICK_MS);
  }

  /* ------------------------------------------------------------------ */
  /* Copy to clipboard                                                   */
  /* ------------------------------------------------------------------ */

  const originalLabels = new WeakMap();
  const labelTimers = new WeakMap();

  function textOf(target) {
    if ("value" in target && typeof target.value === "string" &&
        /^(INPUT|TEXTAREA|SELECT|OUTPUT)$/.test(target.tagName)) {
      return target.value;
    }
    return (target.textContent || "").trim();
  }

  function legacyCopy(target, text) {
    const selection = window.getSelection();
    let ok = false;
    try {
      if (typeof target.select === "function") {
        target.select();
      } else {
        const range = doc.createRange();
        range.selectNodeContents(target);
        selection.removeAllRanges();
        selection.addRange(range);
      }
      ok = doc.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    // Leave the selection in place on failure so the user can press Ctrl+C.
    if (ok && selection) selection.removeAllRanges();
    return ok && text.length > 0;
  }

  async function copyFrom(button) {
    const target = find(button.getAttribute("data-copy-target"));
    if (!target) return;
    const text = textOf(target);
    let ok = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        ok = true;
      } catch (_) {
        ok = false;
      }
    }
    if (!ok) ok = legacyCopy(target, text);
    if (!ok) return;

    const copied = button.getAttribute("data-copied-text");
    if (!copied) return;
    if (!originalLabels.has(button)) originalLabels.set(button, button.textContent);
    clearTimeout(labelTimers.get(button));
    button.textContent = copied;
    button.classList.add("is-copied");
    labelTimers.set(button, setTimeout(() => {
      button.textContent = originalLabels.get(button);
      originalLabels.delete(button);
      button.classList.remove("is-copied");
    }, COPIED_MS));
  }

  /* ------------------------------------------------------------------ */
  /* Show / hide password                                                */
  /* ------------------------------------------------------------------ */

  function syncToggle(button, input) {
    const visible = input.type === "text";
    button.setAttribute("aria-pressed", visible ? "true" : "false");
    const label = button.getAttribute(visible ? "data-hide-text" : "data-show-text");
    if (label !== null) button.textContent = label;
  }

  function togglePassword(button) {
    const input = find(button.getAttribute("data-toggle-password"));
    if (!input || input.tagName !== "INPUT") return;
    input.type = input.type === "password" ? "text" : "password";
    syncToggle(button, input);
  }

  function initToggles(root) {
    for (const button of findAllIn(root, "[data-toggle-password]")) {
      const input = find(button.getAttribute("data-toggle-password"));
      if (input && input.tagName === "INPUT") syncToggle(button, input);
      if (button.tagName === "BUTTON" && !button.hasAttribute("type")) button.type = "button";
    }
  }

  /* ------------------------------------------------------------------ */
  /* Modal dialogs                                                       */
  /* ------------------------------------------------------------------ */

  const dialogOpeners = new WeakMap();
  let lastTrigger = null; // the last control clicked outside any dialog

  /** Where focus goes back to: the control that opened the first dialog of a chain. */
  function describe(el) {
    if (!el || el === doc.body) return null;
    const holder = el.closest("[id]");
    const attr = ["href", "formaction", "popovertarget", "data-hx-get", "data-hx-post"]
      .find((a) => el.hasAttribute(a));
    return { el, holderId: holder ? holder.id : null, attr, value: attr ? el.getAttribute(attr) : null };
  }

  function usable(el) {
    return el && el.isConnected && typeof el.focus === "function" && el.getClientRects().length > 0;
  }

  function restoreFocus(info) {
    let el = info && info.el;
    if (el && !el.isConnected && info.holderId) {
      // The list refreshed after the action: the same control in the new row.
      const holder = doc.getElementById(info.holderId);
      if (holder) {
        el = info.attr ? [...holder.querySelectorAll(`[${info.attr}]`)]
          .find((c) => c.getAttribute(info.attr) === info.value) || null : holder;
      }
    }
    const popover = el && el.closest("[popover]");
    if (popover && !popover.matches(":popover-open") && popover.id) {
      el = doc.querySelector(`[popovertarget=${cssString(popover.id)}]`);
    }
    if (!usable(el)) {
      el = doc.querySelector("main h1") || doc.querySelector("main");
      if (el && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    }
    if (el) el.focus();
  }

  function initDialogs(root) {
    for (const dialog of findAllIn(root, "dialog[data-modal]")) {
      if (dialog.open || !dialog.isConnected || typeof dialog.showModal !== "function") continue;
      const active = doc.activeElement;
      const inDialog = active && active !== dialog && active.closest && active.closest("dialog");
      const previous = inDialog ? dialogOpeners.get(inDialog) : null;
      // A dialog that replaces another (confirm -> result) returns focus to the control
      // that opened the first one, not to a button that no longer exists.
      dialogOpeners.set(dialog, previous || describe(inDialog ? lastTrigger :
        (active && active !== doc.body ? active : lastTrigger)));
      try {
        dialog.showModal();
      } catch (_) {
        /* already open elsewhere or not connected */
      }
      const first = dialog.querySelector("[autofocus]") ||
        dialog.querySelector("input:not([type=hidden]):not([disabled]), select, textarea") ||
        dialog.querySelector("h1, h2");
      if (first && first.matches("h1, h2") && !first.hasAttribute("tabindex")) {
        first.setAttribute("tabindex", "-1");
      }
      if (first && !dialog.contains(doc.activeElement)) first.focus();
    }
  }

  doc.addEventListener("click", (evt) => {
    const el = evt.target instanceof Element ? evt.target.closest("a, button, input, summary") : null;
    if (el && !el.closest("dialog")) lastTrigger = el;
  }, true);

  /* A dialog holding a one-time secret (a temporary password) asks before it closes,
   * unless the secret was copied or downloaded. */
  function mayClose(dialog) {
    if (!dialog.hasAttribute("data-secret") || dialog.hasAttribute("data-secret-kept")) return true;
    return window.confirm(dialog.getAttribute("data-secret") ||
      "This is shown only once. Close anyway?");
  }

  doc.addEventListener("keydown", (evt) => {
    if (evt.key !== "Escape") return;
    const dialog = [...doc.querySelectorAll("dialog[open][data-secret]")].pop();
    if (!dialog) return;
    evt.preventDefault();
    if (mayClose(dialog)) dialog.close();
  }, true);
  doc.addEventListener("cancel", (evt) => {
    const dialog = evt.target;
    if (dialog instanceof HTMLDialogElement && dialog.hasAttribute("data-secret") &&
        !dialog.hasAttribute("data-secret-kept")) {
      evt.preventDefault();
      if (mayClose(dialog)) dialog.close();
    }
  }, true);

  // `close` does not bubble: listen in the capture phase. Fires for
  // dialog.close(), <form method="dialog"> and the native Escape key.
  doc.addEventListener("close", (evt) => {
    const dialog = evt.target;
    if (!(dialog instanceof HTMLDialogElement) || !dialog.hasAttribute("data-modal")) return;
    const opener = dialogOpeners.get(dialog);
    dialog.remove();
    if (!doc.querySelector("dialog[open]")) restoreFocus(opener);
  }, true);

  /* A one-time download: after the first submit the button is disabled and says so, and
   * the page stays (the server answers a second attempt with 410). */
  doc.addEventListener("submit", (evt) => {
    const form = evt.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-download-once")) return;
    if (form.hasAttribute("data-downloaded")) {
      evt.preventDefault();
      return;
    }
    form.setAttribute("data-downloaded", "");
    const dialog = form.closest("[data-secret]");
    if (dialog) dialog.setAttribute("data-secret-kept", "");
    setTimeout(() => {
      for (const button of form.querySelectorAll("button")) button.disabled = true;
      const done = find(form.getAttribute("data-download-once"));
      if (done) done.hidden = false;
    }, 0);
  }, true);

  /* ------------------------------------------------------------------ */
  /* Popover menus (row "More" menu)                                     */
  /* ------------------------------------------------------------------ */

  // A [popover] menu lives in the top layer, so a scrolling table cannot clip it; put it
  // under the button that opened it (right edges aligned), or above when there is no room
  // below (the last rows, a one-row search result). CSSOM writes are allowed by the CSP.
  function placeMenu(menu) {
    const button = doc.querySelector(`[popovertarget=${cssString(menu.id)}]`);
    if (!button) return;
    const b = button.getBoundingClientRect();
    const m = menu.getBoundingClientRect();
    const gap = 4;
    let top = b.bottom + gap;
    if (top + m.height > window.innerHeight - gap && b.top - gap - m.height >= gap) {
      top = b.top - gap - m.height;
    }
    top = Math.max(gap, Math.min(top, window.innerHeight - m.height - gap));
    let left = b.right - m.width;
    left = Math.max(gap, Math.min(left, window.innerWidth - m.width - gap));
    menu.style.top = `${Math.round(top)}px`;
    menu.style.left = `${Math.round(left)}px`;
  }

  function openMenus() {
    return [...doc.querySelectorAll(".menu[popover]")].filter((m) => m.matches(":popover-open"));
  }

  doc.addEventListener("toggle", (evt) => {
    const menu = evt.target;
    if (!(menu instanceof HTMLElement) || !menu.matches(".menu[popover]")) return;
    if (evt.newState === "open") {
      placeMenu(menu);
      const first = menu.querySelector("a[href], button:not([disabled])");
      if (first) first.focus();
    }
  }, true);
  // A menu action refreshes the list, which replaces the row: afterwards, put focus back
  // on that row's menu button (found again by row id) instead of losing it to <body>.
  let menuReturn = null;
  doc.addEventListener("click", (evt) => {
    const item = evt.target instanceof Element ? evt.target.closest(".menu[popover] button") : null;
    const menu = item && item.closest(".menu[popover]");
    const row = menu && menu.closest("[id]:not([popover])");
    menuReturn = row ? { rowId: row.id, menuId: menu.id } : null;
  }, true);
  doc.addEventListener("htmx:after:swap", () => {
    if (!menuReturn || doc.querySelector("dialog[open]")) return;
    const row = doc.getElementById(menuReturn.rowId);
    const button = row && row.querySelector(`[popovertarget=${cssString(menuReturn.menuId)}]`);
    const active = doc.activeElement;
    if (button && button !== active && (!active || active === doc.body || !active.isConnected)) {
      menuReturn = null;
      button.focus();
    }
  });
  window.addEventListener("resize", () => openMenus().forEach(placeMenu));
  window.addEventListener("scroll", () => openMenus().forEach(placeMenu), true);

  /* ------------------------------------------------------------------ */
  /* Bulk-select checkboxes                                              */
  /* ------------------------------------------------------------------ */

  function cssString(value) {
    return `"${String(value).replace(/["\\]/g, "\\$&")}"`;
  }

  function groupBoxes(master) {
    const name = master.getAttribute("data-select-all");
    const scope = master.form || master.closest("form") || doc;
    const boxes = scope.querySelectorAll(`input[type="checkbox"][name=${cssString(name)}]`);
    return [...boxes].filter((b) => b !== master && (scope === doc || b.form === scope ||
      scope.contains(b)));
  }

  function updateSelection(master) {
    const name = master.getAttribute("data-select-all");
    const boxes = groupBoxes(master);
    const enabled = boxes.filter((b) => !b.disabled);
    const checked = boxes.filter((b) => b.checked).length;
    master.checked = enabled.length > 0 && enabled.every((b) => b.checked);
    master.indeterminate = checked > 0 && !master.checked;
    for (const out of doc.querySelectorAll("[data-selected-count]")) {
      const wanted = out.getAttribute("data-selected-count");
      if (!wanted || wanted === name) out.textContent = String(checked);
    }
  }

  function mastersFor(box) {
    if (!box.name) return [];
    const scope = box.form || box.closest("form") || doc;
    return [...scope.querySelectorAll(`input[data-select-all=${cssString(box.name)}]`)];
  }

  function initSelectAll() {
    for (const master of doc.querySelectorAll("input[data-select-all]")) updateSelection(master);
  }

  /* ------------------------------------------------------------------ */
  /* Delegated listeners                                                 */
  /* ------------------------------------------------------------------ */

  doc.addEventListener("click", (evt) => {
    const el = evt.target instanceof Element ? evt.target : null;
    if (!el) return;

    const copyBtn = el.closest("[data-copy-target]");
    if (copyBtn) {
      evt.preventDefault();
      const holder = copyBtn.closest("[data-secret]");
      if (holder) holder.setAttribute("data-secret-kept", "");
      copyFrom(copyBtn);
      return;
    }

    const toggleBtn = el.closest("[data-toggle-password]");
    if (toggleBtn) {
      evt.preventDefault();
      togglePassword(toggleBtn);
      return;
    }

    const closeBtn = el.closest("[data-close-dialog]");
    if (closeBtn) {
      const dialog = closeBtn.closest("dialog");
      if (dialog) {
        evt.preventDefault();
        if (mayClose(dialog)) dialog.close(closeBtn.value || "");
      }
    }
  });

  doc.addEventListener("change", (evt) => {
    const el = evt.target;
    if (!(el instanceof HTMLInputElement) || el.type !== "checkbox") return;
    if (el.hasAttribute("data-select-all")) {
      for (const box of groupBoxes(el)) {
        if (!box.disabled) box.checked = el.checked;
      }
      updateSelection(el);
      return;
    }
    for (const master of mastersFor(el)) updateSelection(master);
  });

  /* ------------------------------------------------------------------ */
  /* Initialisation (page load + every htmx swap)                        */
  /* ------------------------------------------------------------------ */

  function init(root) {
    const scope = root && root.nodeType ? root : doc.body;
    if (!scope) return;
    initCountdowns(scope);
    initToggles(scope);
    initDialogs(scope);
    initSelectAll();
  }

  // htmx 4 fires htmx:after:process on the root of every processed subtree:
  // document.body at start-up and each piece of swapped-in content (main,
  // OOB and <hx-partial> swaps, history restores).
  doc.addEventListener("htmx:after:process", (evt) => init(evt.target));

  hardenHtmx(window.htmx);

  if (doc.readyState === "loading") {
    doc.addEventListener("DOMContentLoaded", () => init(doc.body));
  } else {
    init(doc.body);
  }

  window.Passgate = Object.freeze({
    version: "1",
    formatDuration,
    init,
  });
})();
