"""Client authentication rules: a pg_hba.conf-like file choosing the method per connection.

One rule per line, fields separated by blanks, ``#`` starts a comment::

    # TYPE     DATABASE   USER      ADDRESS         METHOD
    host       all        all       127.0.0.1/32    trust
    hostssl    cairn      alice     0.0.0.0/0       scram-sha-256
    hostnossl  all        bob,carol ::/0            md5
    host       all        all       all             reject

TYPE is ``host`` (TLS or not), ``hostssl`` or ``hostnossl``; DATABASE and USER are ``all`` or
comma-separated names; ADDRESS is ``all``, an IP address with a CIDR mask, or ``samehost``
(loopback); METHOD is ``trust``, ``reject``, ``password``, ``md5`` or ``scram-sha-256``. The first
rule matching (type, database, user, address) decides, as in PostgreSQL; no match is a FATAL
28000 "no pg_hba.conf entry". Without a file: trust on loopback, scram-sha-256 elsewhere.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

METHODS = ("trust", "reject", "password", "md5", "scram-sha-256")
TYPES = ("host", "hostssl", "hostnossl")


class HbaError(ValueError):
    """A line of the rules file that does not parse (the server refuses to start)."""


@dataclass(frozen=True)
class Rule:
    conn_type: str
    databases: tuple[str, ...]
    users: tuple[str, ...]
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None  # None: all
    samehost: bool
    method: str
    line: int = 0

    def matches(self, database: str, user: str, addr: str, ssl: bool) -> bool:
        if self.conn_type == "hostssl" and not ssl:
            return False
        if self.conn_type == "hostnossl" and ssl:
            return False
        if "all" not in self.databases and database not in self.databases:
            return False
        if "all" not in self.users and user not in self.users:
            return False
        ip = ipaddress.ip_address(addr.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.samehost:
            return ip.is_loopback
        if self.network is None:
            return True
        return ip.version == self.network.version and ip in self.network


DEFAULT_RULES = """
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
host all all all scram-sha-256
"""


def parse_rules(text: str) -> list[Rule]:
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        if len(f) != 5:
            raise HbaError(f"line {n}: expected TYPE DATABASE USER ADDRESS METHOD, got "
                           f"{len(f)} fields")
        conn_type, dbs, users, address, method = f
        if conn_type not in TYPES:
            raise HbaError(f"line {n}: invalid connection type \"{conn_type}\" (one of "
                           f"{', '.join(TYPES)})")
        if method not in METHODS:
            raise HbaError(f"line {n}: invalid authentication method \"{method}\" (one of "
                           f"{', '.join(METHODS)})")
        network = None
        samehost = address == "samehost"
        if address not in ("all", "samehost"):
            try:
                network = ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise HbaError(f"line {n}: invalid IP address \"{address}\"") from None
        rules.append(Rule(conn_type, tuple(dbs.split(",")), tuple(users.split(",")), network,
                          samehost, method, n))
    return rules


def load_rules(path: str | None) -> list[Rule]:
    if path is None:
        return parse_rules(DEFAULT_RULES)
    with open(path, encoding="utf-8") as f:
        return parse_rules(f.read())


def choose(rules: list[Rule], database: str, user: str, addr: str, ssl: bool) -> Rule | None:
    for r in rules:
        if r.matches(database, user, addr, ssl):
            return r
    return None
