"""A real OpenLDAP server (Debian's slapd) for the directory tests.

Each ``Slapd`` lives in its own temporary directory with a slapd.conf, an mdb database
seeded with ``slapadd`` and the ppolicy overlay, and listens on a free loopback port in
18400-18499. ``.ci/run`` installs slapd; without it the tests fail, they never skip.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time

import ldap3

BASE = "dc=example,dc=org"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=teams,{BASE}"
SERVICE_DN = f"cn=passgate,ou=services,{BASE}"
SERVICE_PASSWORD = "service account secret"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "directory root secret"
PORTS = range(18400, 18500)

# People: (uid, given name, surname, mail or None, password)
PEOPLE_SEED = [
    ("dora", "Dora", "Lefèvre", "dora@school.test", "dora directory pass 1"),
    ("eli", "Eli", "Moreau", None, "eli directory pass 1"),
    ("fay", "Fay", "Bernard", "fay@school.test", "fay directory pass 1"),
]

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb.la
moduleload ppolicy.la
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
database mdb
maxsize 10485760
suffix "{base}"
rootdn "{admin_dn}"
rootpw "{admin_password}"
directory {dir}/db
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{base}"
ppolicy_use_lockout
ppolicy_hash_cleartext
password-hash {{SSHA}}
access to attrs=userPassword
  by dn.exact="{service_dn}" manage
  by self write
  by anonymous auth
  by * none
access to attrs=pwdReset,pwdAccountLockedTime,pwdFailureTime
  by dn.exact="{service_dn}" manage
  by * none
access to *
  by dn.exact="{service_dn}" read
  by self read
  by * none
"""


def seed_ldif() -> str:
    parts = [
        f"""\
dn: {BASE}
objectClass: dcObject
objectClass: organization
o: Example School
dc: example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: ou=services,{BASE}
objectClass: organizationalUnit
ou: services

dn: ou=policies,{BASE}
objectClass: organizationalUnit
ou: policies

dn: {GROUPS}
objectClass: organizationalUnit
ou: teams

dn: cn=default,ou=policies,{BASE}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMinLength: 12
pwdCheckQuality: 2
pwdInHistory: 3
pwdLockout: TRUE
pwdMaxFailure: 3
pwdLockoutDuration: 0
pwdMustChange: TRUE
pwdAllowUserChange: TRUE

dn: {SERVICE_DN}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: passgate
userPassword: {SERVICE_PASSWORD}
"""
    ]
    for uid, given, sn, mail, password in PEOPLE_SEED:
        parts.append(person_ldif(uid, given, sn, mail, password))
    parts.append(f"""\
dn: cn=Year 5,{GROUPS}
objectClass: groupOfNames
cn: Year 5
member: uid=dora,{PEOPLE}
""")
    return "\n".join(parts)


def _line(name: str, value: str) -> str:
    """One LDIF line; non-ASCII values are base64 (RFC 2849)."""
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def person_ldif(uid, given, sn, mail, password) -> str:
    lines = [
        f"dn: uid={uid},{PEOPLE}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        _line("cn", f"{given} {sn}"),
        _line("givenName", given),
        _line("sn", sn),
    ]
    if mail:
        lines.append(f"mail: {mail}")
    lines.append(f"userPassword: {password}")
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    start = PORTS.start + (os.getpid() * 7) % len(PORTS)
    for i in range(len(PORTS)):
        port = PORTS.start + (start - PORTS.start + i) % len(PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18400-18499 for slapd")


def make_certificates(directory: str) -> dict:
    """A throw-away CA and a server certificate for ``localhost`` (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Passgate test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {name: os.path.join(directory, f"{name}.pem") for name in ("ca", "cert", "key")}
    with open(paths["ca"], "wb") as fh:
        fh.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert"], "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["key"], "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    return paths


class Slapd:
    def __init__(self, directory, tls: bool = False):
        self.dir = str(directory)
        self.port = None
        self.tls_port = None
        self.tls = tls
        self.process = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def setup(self) -> Slapd:
        slapd = shutil.which("slapd") or "/usr/sbin/slapd"
        if not os.path.exists(slapd):
            raise RuntimeError("slapd is not installed (apt-get install slapd ldap-utils)")
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as fh:
            if self.tls:
                self.certs = make_certificates(self.dir)
                fh.write(
                    f'TLSCertificateFile "{self.certs["cert"]}"\n'
                    f'TLSCertificateKeyFile "{self.certs["key"]}"\n'
                )
            fh.write(
                SLAPD_CONF.format(
                    dir=self.dir,
                    base=BASE,
                    admin_dn=ADMIN_DN,
                    admin_password=ADMIN_PASSWORD,
                    service_dn=SERVICE_DN,
                )
            )
        ldif = os.path.join(self.dir, "seed.ldif")
        with open(ldif, "w") as fh:
            fh.write(seed_ldif())
        slapadd = shutil.which("slapadd") or "/usr/sbin/slapadd"
        done = subprocess.run(
            [slapadd, "-q", "-f", self.conf, "-l", ldif], capture_output=True, timeout=30
        )
        if done.returncode:
            raise RuntimeError("slapadd failed: " + done.stderr.decode()[-2000:])
        self.binary = slapd
        return self

    def start(self) -> Slapd:
        if self.port is None:
            self.port = _free_port()
        urls = f"ldap://127.0.0.1:{self.port}/"
        if self.tls:
            if self.tls_port is None:
                with socket.socket() as hold:  # keep the first port taken while choosing
                    hold.bind(("127.0.0.1", self.port))
                    self.tls_port = _free_port()
            urls += f" ldaps://127.0.0.1:{self.tls_port}/"
        # -d 0: stay in the foreground (the test owns the process and stops it by pid).
        self.process = subprocess.Popen(
            [self.binary, "-d", "0", "-f", self.conf, "-h", urls],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited: " + self.process.stderr.read().decode()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    # independent checks, with ldap3 but none of Passgate's code
    def _conn(self, dn, password):
        server = ldap3.Server(self.url, get_info=ldap3.NONE, connect_timeout=3)
        return ldap3.Connection(server, dn, password, receive_timeout=3, raise_exceptions=False)

    def can_bind(self, uid: str, password: str) -> bool:
        conn = self._conn(f"uid={uid},{PEOPLE}", password)
        ok = conn.bind()
        conn.unbind()
        return ok

    def read(self, uid: str, *attributes) -> dict:
        """Attributes of a person, read as the directory's root (operational ones too)."""
        conn = self._conn(ADMIN_DN, ADMIN_PASSWORD)
        assert conn.bind()
        conn.search(
            f"uid={uid},{PEOPLE}",
            "(objectClass=*)",
            search_scope=ldap3.BASE,
            attributes=list(attributes),
        )
        raw = conn.response[0]["raw_attributes"] if conn.response else {}
        conn.unbind()
        return {k: [v.decode() for v in raw.get(k, [])] for k in attributes}

    def modify(self, uid: str, changes: dict) -> None:
        conn = self._conn(ADMIN_DN, ADMIN_PASSWORD)
        assert conn.bind()
        assert conn.modify(f"uid={uid},{PEOPLE}", changes), conn.result
        conn.unbind()

    def add_person(self, uid, given, sn, mail, password) -> None:
        conn = self._conn(ADMIN_DN, ADMIN_PASSWORD)
        assert conn.bind()
        attrs = {
            "uid": uid,
            "cn": f"{given} {sn}",
            "givenName": given,
            "sn": sn,
            "userPassword": password,
        }
        if mail:
            attrs["mail"] = mail
        assert conn.add(f"uid={uid},{PEOPLE}", ["inetOrgPerson"], attrs), conn.result
        conn.unbind()

    def delete_person(self, uid) -> None:
        conn = self._conn(ADMIN_DN, ADMIN_PASSWORD)
        assert conn.bind()
        assert conn.delete(f"uid={uid},{PEOPLE}"), conn.result
        conn.unbind()

    def settings(self, **extra) -> dict:
        """Passgate's PASSGATE_LDAP_* values for this server."""
        return {
            "LDAP_URL": self.url,
            "LDAP_BIND_DN": SERVICE_DN,
            "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
            "LDAP_USER_BASE": PEOPLE,
            "LDAP_TIMEOUT": 3.0,
            **extra,
        }
