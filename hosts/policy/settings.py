"""Per-host policy settings an admin can change, and the name normalizations they are matched against."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What a non-admin may add with CapAdd (names without CAP_): Docker's default set, since adding one back
# after `--cap-drop ALL` is the common case.
DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip
# Never for a non-admin, whatever the allowlist says: each one is a known container escape or host takeover
# (the six, plus raw I/O ports, kexec, BPF and the LSM overrides).
NEVER_CAPABILITIES = frozenset(
    {
        "ALL", "SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "NET_ADMIN",
        "SYS_RAWIO", "SYS_BOOT", "BPF", "MAC_ADMIN", "MAC_OVERRIDE",
    }
)  # fmt: skip
DEFAULT_SYSCTLS = frozenset(
    {"net.ipv4.ip_unprivileged_port_start", "net.ipv4.ping_group_range", "net.ipv4.tcp_keepalive_time"}
)

# Go's strings.ToUpper maps dotless i and long s onto ASCII I and S: `CapAdd: ["\u017fys_admin"]` adds
# SYS_ADMIN (verified on 20.10); Python's str.upper agrees on these two.
_GO_UPPER_ONTO_ASCII = str.maketrans({"\u0131": "I", "\u017f": "S"})


class PolicySettingsError(ValueError):
    """Stored or submitted policy settings that do not validate; the message names the field."""


def normalize_capability(name: str) -> str | None:
    """'cap_net_raw' -> 'NET_RAW', as dockerd normalizes it; None if it cannot be a capability name."""
    if not name.isascii():
        name = name.translate(_GO_UPPER_ONTO_ASCII)
        if not name.isascii():
            return None  # Go's ToUpper keeps other letters non-ASCII: no capability has such a name
    upper = name.upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def normalize_host_path(path: str) -> str:
    """'/srv//data/../x/' -> '/srv/x', like Go's path.Clean (posixpath keeps a leading '//'; Go does not)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def normalize_image(ref: str) -> str:
    """The repository an image reference resolves to: 'busybox:1' -> 'docker.io/library/busybox'."""
    name = ref.split("@", 1)[0]
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name = name[:colon]  # a tag, not a registry port
    return _normalize_repository(name)


def _normalize_repository(name: str) -> str:
    # distribution/reference splitDockerDomain: the first component is a registry only if it looks like one.
    slash = name.find("/")
    first = name[:slash] if slash != -1 else ""
    if slash == -1 or not ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, rest = "docker.io", name
    else:
        domain, rest = first.lower(), name[slash + 1 :]
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in rest:
        rest = "library/" + rest
    return f"{domain}/{rest}"


def _registry_rule(pattern: str) -> str:
    """'registry.internal' or 'registry.internal/*' -> 'registry.internal/'; 'busybox' -> exact repository."""
    text = pattern.strip()
    if not text or text == "*":
        raise PolicySettingsError("allowed_registries: use an empty list to allow every registry")
    if text.endswith("/*"):
        return _normalize_repository(text[:-2] + "/x")[:-1]  # normalize the prefix's registry part only
    if "*" in text:
        raise PolicySettingsError(f"allowed_registries: {pattern!r}: '*' is allowed only as a final '/*'")
    if "/" not in text and ("." in text or ":" in text or text == "localhost"):
        return text.lower() + "/"  # a bare registry host
    return normalize_image(text)


def _bind_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise PolicySettingsError(f"allowed_bind_prefixes: {prefix!r} is not an absolute host path")
    normalized = normalize_host_path(prefix)
    if normalized == "/":
        raise PolicySettingsError(
            "allowed_bind_prefixes: '/' would allow every host path; give the admin role"
        )
    return normalized


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list | tuple | frozenset | set) or not all(isinstance(v, str) for v in value):
        raise PolicySettingsError(f"{what} must be a list of strings")
    return list(value)


def _limit(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PolicySettingsError(f"{what} must be a positive integer or null")
    return value


@dataclass(frozen=True)
class PolicySettings:
    """The admission policy's per-host settings (normalized on construction)."""

    allowed_bind_prefixes: tuple[str, ...] = ()
    allowed_registries: tuple[str, ...] = ()  # empty: any registry
    max_memory: int | None = None  # bytes
    max_nano_cpus: int | None = None  # 1e9 = one CPU
    default_memory: int | None = None  # given to a create without a limit (else max_memory is)
    default_nano_cpus: int | None = None
    capability_allowlist: frozenset[str] = DEFAULT_CAPABILITIES
    sysctl_allowlist: frozenset[str] = DEFAULT_SYSCTLS
    _registry_prefixes: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    _registry_exact: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prefixes = tuple(_bind_prefix(p) for p in _names(self.allowed_bind_prefixes, "allowed_bind_prefixes"))
        rules = [_registry_rule(p) for p in _names(self.allowed_registries, "allowed_registries")]
        caps: set[str] = set()
        for name in _names(self.capability_allowlist, "capability_allowlist"):
            cap = normalize_capability(name)
            if cap is None:
                raise PolicySettingsError(f"capability_allowlist: {name!r} is not a capability name")
            if cap in NEVER_CAPABILITIES:
                raise PolicySettingsError(
                    f"capability_allowlist: {name!r} can never be allowed to non-admins"
                )
            caps.add(cap)
        sysctls = frozenset(_names(self.sysctl_allowlist, "sysctl_allowlist"))
        limits = {
            name: _limit(getattr(self, name), name)
            for name in ("max_memory", "max_nano_cpus", "default_memory", "default_nano_cpus")
        }
        for kind in ("memory", "nano_cpus"):
            default, maximum = limits[f"default_{kind}"], limits[f"max_{kind}"]
            if default is not None and maximum is not None and default > maximum:
                raise PolicySettingsError(f"default_{kind} ({default}) is above max_{kind} ({maximum})")
        values = {
            "allowed_bind_prefixes": prefixes,
            "allowed_registries": tuple(p.strip() for p in self.allowed_registries),
            "capability_allowlist": frozenset(caps),
            "sysctl_allowlist": sysctls,
            "_registry_prefixes": tuple(r for r in rules if r.endswith("/")),
            "_registry_exact": frozenset(r for r in rules if not r.endswith("/")),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySettings:
        """Build from stored JSON; PolicySettingsError names the first bad field."""
        if not isinstance(data, Mapping):
            raise PolicySettingsError("policy settings must be a JSON object")
        unknown = sorted(set(data) - set(cls().to_dict()))
        if unknown:
            raise PolicySettingsError(f"unknown policy setting(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name in ("allowed_bind_prefixes", "allowed_registries"):
            if name in data:
                kwargs[name] = tuple(_names(data[name], name))
        for name in ("capability_allowlist", "sysctl_allowlist"):
            if name in data:
                kwargs[name] = frozenset(_names(data[name], name))
        for name in ("max_memory", "max_nano_cpus", "default_memory", "default_nano_cpus"):
            if name in data:
                kwargs[name] = data[name]
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form that from_dict reads back."""
        return {
            "allowed_bind_prefixes": list(self.allowed_bind_prefixes),
            "allowed_registries": list(self.allowed_registries),
            "max_memory": self.max_memory,
            "max_nano_cpus": self.max_nano_cpus,
            "default_memory": self.default_memory,
            "default_nano_cpus": self.default_nano_cpus,
            "capability_allowlist": sorted(self.capability_allowlist),
            "sysctl_allowlist": sorted(self.sysctl_allowlist),
        }

    def bind_allowed(self, host_path: str) -> bool:
        """Is this (absolute) host path under an allowed bind prefix, after normalization?"""
        path = normalize_host_path(host_path)
        return any(path == p or path.startswith(p + "/") for p in self.allowed_bind_prefixes)

    def image_allowed(self, ref: str) -> bool:
        """Does the image reference resolve to an allowed registry (always, with no allowlist)?"""
        if not self.allowed_registries:
            return True
        repository = normalize_image(ref)
        return repository in self._registry_exact or repository.startswith(self._registry_prefixes)

    def effective_default(self, kind: str) -> int | None:
        """The limit given to a create without one: the default, else the maximum ('memory'/'nano_cpus')."""
        default: int | None = getattr(self, f"default_{kind}")
        return default if default is not None else getattr(self, f"max_{kind}")
