"""Checks on bodies that create or change containers: create, update and exec create."""

from __future__ import annotations

from typing import Any

from .base import (
    Denied,
    as_int,
    as_list,
    as_map,
    as_str,
    as_strs,
    fold_key,
    folded,
    is_set_bool,
)
from .references import (
    Facts,
    check_container_ref,
    check_endpoints,
    check_namespace_mode,
    check_network_mode,
    check_volume_name,
    check_volume_use,
    create_missing_volumes,
    link_target,
    refuse_owner_labels,
)
from .settings import NEVER_CAPABILITIES, PolicySettings, normalize_capability

__all__ = ["Facts", "admit_container_create", "check_container_create", "check_container_update"]


# container.Resources, embedded in HostConfig (create) and in UpdateConfig (update).
_RESOURCE_FIELDS = (
    "CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight", "BlkioWeightDevice",
    "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
    "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems",
    "Devices", "DeviceCgroupRules", "DeviceCgroupPermissions", "DeviceRequests", "KernelMemory",
    "KernelMemoryTCP", "MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable",
    "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",
)  # fmt: skip
# Every HostConfig field as dockerd spells it. dockerd's create body embeds a second, top-level HostConfig
# (runconfig.ContainerConfigWrapper, for pre-1.24 clients) that is used whole when "HostConfig" is absent
# or null, and for Memory, MemorySwap, CpuShares, CpusetCpus and VolumeDriver otherwise, at every API
# version: `{"Image": "x", "Privileged": true}` creates a privileged container on 20.10 through /v1.41/.
_HOST_CONFIG_FIELDS = {
    fold_key(name): name
    for name in (
        "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove",
        "VolumeDriver", "VolumesFrom", "ConsoleSize", "Annotations", "CapAdd", "CapDrop", "CgroupnsMode",
        "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links",
        "OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt",
        "StorageOpt", "Tmpfs", "UTSMode", "UsernsMode", "ShmSize", "Sysctls", "Runtime", "Isolation",
        "Mounts", "MaskedPaths", "ReadonlyPaths", "Init", "Capabilities",
        # the embedded Resources
        *_RESOURCE_FIELDS,
    )
}  # fmt: skip
# What `POST /containers/{id}/update` reads (container.UpdateConfig): the resources and the restart policy.
_UPDATE_FIELDS = frozenset(fold_key(name) for name in (*_RESOURCE_FIELDS, "RestartPolicy"))

_NAMESPACE_MODES = ("PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode", "Cgroup")  # + NetworkMode
_DEVICE_FIELDS = ("Devices", "DeviceRequests", "DeviceCgroupRules", "DeviceCgroupPermissions")
_ALLOWED_RUNTIMES = frozenset({"", "runc"})
_LOCAL_DRIVERS = frozenset({"", "local"})
# Log drivers that write on the host only; the others make dockerd open connections the user chooses
# (syslog/fluentd/gelf/splunk addresses, unix sockets) or use the host's cloud credentials (awslogs, gcplogs).
_ALLOWED_LOG_DRIVERS = frozenset({"", "json-file", "local", "journald", "none"})
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # strconv.ParseBool
CPU_PERIOD_DEFAULT = 100_000  # µs, what the kernel (and dockerd for NanoCpus) uses


def _field(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _View:
    """Typed, case-insensitive reads of one JSON object; Docker's spelling of field names for messages.

    A null reads as the zero value; a value of another JSON type is denied, as Go would fail to decode it.
    """

    __slots__ = ("keys", "obj", "prefix")

    def __init__(self, obj: dict[str, Any], prefix: str) -> None:
        self.obj = obj
        self.keys = folded(obj)
        self.prefix = prefix

    def get(self, name: str) -> Any:
        key = self.keys.get(name.lower())  # `name` is Docker's ASCII field name
        return None if key is None else self.obj[key]

    def field(self, name: str) -> str:
        return _field(self.prefix, name)

    def text(self, name: str) -> str:
        value = self.get(name)
        return value if type(value) is str else as_str(value, self.field(name))

    def items(self, name: str) -> list[Any]:
        value = self.get(name)
        return value if type(value) is list else as_list(value, self.field(name))

    def strings(self, name: str, *, single_ok: bool = False) -> list[str]:
        value = self.get(name)
        return [] if value is None else as_strs(value, self.field(name), single_ok=single_ok)

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.get(name)
        return value if type(value) is dict else as_map(value, self.field(name))

    def integer(self, name: str) -> int:
        value = self.get(name)
        return value if type(value) is int else as_int(value, self.field(name))

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if value is None or value is False:
            return False
        return value is True or is_set_bool(value, self.field(name))

    def set(self, name: str, value: Any) -> None:
        """Set a field, reusing the client's spelling of its key if it sent one."""
        self.obj[self.keys.setdefault(name.lower(), name)] = value


def check_security_opt(opt: str, field: str) -> None:
    """Allow only options that keep or tighten the defaults; mirrors dockerd's parseSecurityOpt."""
    if opt == "no-new-privileges":
        return
    if "=" in opt:
        key, value = opt.split("=", 1)
    elif ":" in opt:
        key, value = opt.split(":", 1)
    else:
        key, value = opt, ""
    key = key.lower()
    if (
        (key == "no-new-privileges" and value in _GO_TRUE)
        or (key == "seccomp" and value == "builtin")
        or (key == "apparmor" and value == "docker-default")
    ):
        return
    # Every label= option is refused: type:spc_t is unconfined, and a chosen MCS level can match another
    # team's containers and so open their files.
    if key in ("seccomp", "apparmor", "systempaths", "label", "disable"):
        hint = "confinement is reserved for host admins; drop this --security-opt"
        if key == "seccomp" and value.lower() != "unconfined":
            hint = "only the default seccomp profile is allowed; drop this --security-opt"
        raise Denied("security-opt", field, f"Security option {opt!r} is not allowed: {hint}.")
    if key == "no-new-privileges":
        raise Denied("security-opt", field, f"{opt!r} would turn off the host's no-new-privileges default.")
    raise Denied("security-opt", field, f"Security option {opt!r} is not allowed here.")


def _check_capabilities(values: list[str], field: str, settings: PolicySettings) -> None:
    for raw in values:
        cap = normalize_capability(raw)
        if cap in NEVER_CAPABILITIES:
            raise Denied("capability", field, f"Capability {raw!r} is never allowed below the admin role.")
        if cap is None or cap not in settings.capability_allowlist:
            allowed = ", ".join(sorted(settings.capability_allowlist)) or "none"
            raise Denied("capability", field, f"Capability {raw!r} is not on this host's list ({allowed}).")


def _check_bind(source: str, field: str, settings: PolicySettings) -> None:
    if source.startswith("/") and settings.bind_allowed(source):
        return
    allowed = ", ".join(settings.allowed_bind_prefixes) or "none on this host"
    raise Denied(
        "no-bind-mounts",
        field,
        f"Bind-mounting the host path {source!r} is not allowed (allowed prefixes: {allowed}); "
        "use a named volume instead.",
    )


# Volumes a create names that the engine does not have yet: name -> (field, labels the body asked for).
_Missing = dict[str, tuple[str, dict[str, str]]]


def _check_named_volume(
    name: str, field: str, facts: Facts, missing: _Missing, labels: dict[str, str] | None = None
) -> None:
    check_volume_name(name, field)
    if facts.volume_has_driver_opts(name):  # refused whoever owns it
        raise Denied(
            "no-volume-driver-opts",
            field,
            f"Volume {name!r} was created with driver options (which can mount host paths); "
            "use a plain volume.",
        )
    if check_volume_use(name, field, facts):
        missing.setdefault(name, (field, labels or {}))


def _looks_like_windows_path(source: str) -> bool:
    # `C:\data` or `\\server\share`; not `v:/x`, which a Linux engine reads as volume "v" at /x.
    return source.startswith("\\") or (len(source) > 2 and source[1] == ":" and source[2] == "\\")


def _check_binds(
    binds: list[str], prefix: str, settings: PolicySettings, facts: Facts, missing: _Missing
) -> None:
    for index, spec in enumerate(binds):
        field = f"{prefix}.Binds[{index}]"
        if _looks_like_windows_path(spec):
            _check_bind(spec, field, settings)  # a host path on a Windows engine; never under a POSIX prefix
        parts = spec.split(":")
        if len(parts) == 1:
            continue  # only a container path: an anonymous volume
        # linuxParser.ParseMountRaw: src:dst[:mode]; an absolute source is a host path, else a volume name.
        source = parts[0]
        if source.startswith("/"):
            _check_bind(source, field, settings)
        else:
            _check_named_volume(source, field, facts, missing)


def _check_mounts(
    mounts: list[Any], prefix: str, settings: PolicySettings, facts: Facts, missing: _Missing
) -> None:
    for index, item in enumerate(mounts):
        field = f"{prefix}.Mounts[{index}]"
        mount = _View(as_map(item, field), field)
        kind = mount.text("Type").lower()
        source = mount.text("Source")
        if kind == "bind":
            _check_bind(source, mount.field("Source"), settings)
        elif kind == "volume":
            options = _View(mount.mapping("VolumeOptions"), mount.field("VolumeOptions"))
            driver_field = mount.field("VolumeOptions.DriverConfig")
            driver = _View(options.mapping("DriverConfig"), driver_field)
            name = driver.text("Name")
            if name.lower() not in _LOCAL_DRIVERS:
                raise Denied("volume-driver", driver.field("Name"), f"Volume driver {name!r} is not allowed.")
            if driver.mapping("Options"):
                raise Denied(
                    "no-volume-driver-opts",
                    driver.field("Options"),
                    "Volume driver options can mount host paths; create the volume without options.",
                )
            labels = options.mapping("Labels")
            refuse_owner_labels(labels, options.field("Labels"))
            if source:  # no Source: an anonymous volume
                _check_named_volume(source, mount.field("Source"), facts, missing, labels)
        elif kind != "tmpfs":
            raise Denied("mount-type", mount.field("Type"), f"Mount type {kind!r} is not allowed here.")


def _check_container_refs(values: list[str], field: str, rule: str, facts: Facts) -> None:
    for index, spec in enumerate(values):
        # VolumesFrom "id[:ro|rw]" (parseVolumesFrom), Links "name[:alias]" (opts.ParseLink)
        what = "Volumes from" if rule == "volumes-from-not-owned" else "A link to"
        check_container_ref(link_target(spec), f"{field}[{index}]", rule, facts, what)


def _check_resources(view: _View, settings: PolicySettings, *, create: bool) -> bool:
    """Deny device access, cgroup escapes and limits above the maximum; on create, fill in defaults."""
    for name in _DEVICE_FIELDS:
        if view.items(name):
            raise Denied(
                "no-devices", view.field(name), f"{view.field(name)} gives host devices; not allowed."
            )
    parent = view.text("CgroupParent")
    if parent:
        raise Denied(
            "no-cgroup-parent", view.field("CgroupParent"), f"CgroupParent {parent!r} is not allowed."
        )
    changed = False
    memory = view.integer("Memory")
    if settings.max_memory is not None and (memory < 0 or memory > settings.max_memory):
        raise Denied(
            "limits",
            view.field("Memory"),
            f"A memory limit of {memory} bytes is not allowed: this host's maximum is {settings.max_memory} "
            "bytes; ask for less with --memory.",
        )
    default_memory = settings.effective_default("memory")
    if create and memory == 0 and default_memory is not None:
        view.set("Memory", default_memory)
        changed = True
    return _check_cpu(view, settings, create=create) or changed


def _check_cpu(view: _View, settings: PolicySettings, *, create: bool) -> bool:
    nano = view.integer("NanoCpus")
    quota = view.integer("CpuQuota")
    period = view.integer("CpuPeriod")
    maximum = settings.max_nano_cpus
    if maximum is not None:
        if nano < 0 or quota < 0:  # CpuQuota -1 overrides a NanoCpus limit with "unlimited"
            field = view.field("NanoCpus" if nano < 0 else "CpuQuota")
            raise Denied("limits", field, f"{field} cannot be unlimited on this host.")
        if not create and (quota > 0) != (period > 0):
            # The container's current period (or quota) is unknown here: 50000/1000 is 50 CPUs.
            raise Denied(
                "limits", view.field("CpuQuota"), "Give CpuQuota and CpuPeriod together, or NanoCpus."
            )
        cpus = f"{nano / 1e9:g}"
        over = nano > maximum
        if quota > 0:
            effective_period = period if period > 0 else CPU_PERIOD_DEFAULT
            over = over or quota * 1_000_000_000 > maximum * effective_period
            cpus = f"{quota / effective_period:g}"
        if over:
            raise Denied(
                "limits",
                view.field("CpuQuota" if quota > 0 else "NanoCpus"),
                f"A CPU limit of {cpus} CPUs is above this host's maximum of {maximum / 1e9:g} CPUs.",
            )
    default = settings.effective_default("nano_cpus")
    if not create or default is None or nano > 0 or quota > 0:
        return False
    if period > 0:  # dockerd refuses NanoCpus together with CpuPeriod
        view.set("CpuQuota", max(1000, default * period // 1_000_000_000))
    else:
        view.set("NanoCpus", default)
    return True


def _check_host_config(view: _View, settings: PolicySettings, facts: Facts, missing: _Missing) -> bool:
    if view.flag("Privileged"):
        raise Denied(
            "no-privileged",
            view.field("Privileged"),
            "HostConfig.Privileged is true, and privileged containers are reserved for host admins; "
            "drop --privileged and add only the capabilities you need.",
        )
    volume_driver = view.text("VolumeDriver")
    if volume_driver.lower() not in _LOCAL_DRIVERS:
        raise Denied(
            "volume-driver", view.field("VolumeDriver"), f"Volume driver {volume_driver!r} is not allowed."
        )
    _check_binds(view.strings("Binds"), view.prefix, settings, facts, missing)
    _check_mounts(view.items("Mounts"), view.prefix, settings, facts, missing)
    for name, rule in (("VolumesFrom", "volumes-from-not-owned"), ("Links", "links-not-owned")):
        _check_container_refs(view.strings(name), view.field(name), rule, facts)
    for name in ("CapAdd", "Capabilities"):  # Capabilities (API 1.40) replaces the whole set
        _check_capabilities(view.strings(name, single_ok=True), view.field(name), settings)
    view.strings("CapDrop", single_ok=True)
    for opt in view.strings("SecurityOpt"):
        check_security_opt(opt, view.field("SecurityOpt"))
    for name in _NAMESPACE_MODES:
        check_namespace_mode(view.text(name), view.field(name), facts)
    check_network_mode(view.text("NetworkMode"), view.field("NetworkMode"), facts)
    runtime = view.text("Runtime")
    if runtime not in _ALLOWED_RUNTIMES:
        raise Denied(
            "runtime", view.field("Runtime"), f"Runtime {runtime!r} is not allowed; use the default."
        )
    for name in view.mapping("Sysctls"):
        if name not in settings.sysctl_allowlist:
            allowed = ", ".join(sorted(settings.sysctl_allowlist)) or "none"
            raise Denied(
                "sysctl", view.field("Sysctls"), f"Sysctl {name!r} is not on this host's list ({allowed})."
            )
    for name, rule in (("MaskedPaths", "no-masked-paths"), ("ReadonlyPaths", "no-readonly-paths")):
        # null is what the CLI sends on every run (defaults apply); any list, even [], replaces the defaults.
        if view.get(name) is not None:
            raise Denied(
                rule, view.field(name), f"{view.field(name)} overrides the engine's protected paths."
            )
    if view.mapping("Annotations"):
        raise Denied("no-annotations", view.field("Annotations"), "OCI annotations are reserved for admins.")
    log = _View(view.mapping("LogConfig"), view.field("LogConfig"))
    log_driver = log.text("Type")
    if log_driver not in _ALLOWED_LOG_DRIVERS:
        allowed = ", ".join(sorted(d for d in _ALLOWED_LOG_DRIVERS if d))
        raise Denied(
            "log-driver", log.field("Type"), f"Log driver {log_driver!r} is not allowed (use {allowed})."
        )
    return _check_resources(view, settings, create=True)


def check_container_create(body: dict[str, Any], settings: PolicySettings, facts: Facts) -> dict[str, Any]:
    """Deny what the issue's admission policy forbids in a create body; return it with default limits."""
    checked, _ = admit_container_create(body, settings, facts)
    return checked


def admit_container_create(
    body: dict[str, Any], settings: PolicySettings, facts: Facts
) -> tuple[dict[str, Any], bool]:
    """check_container_create, also saying whether it added default limits (the body must be re-sent)."""
    top = folded(body)
    for key, name in top.items():
        canonical = _HOST_CONFIG_FIELDS.get(key)
        if canonical is None:
            continue
        value = body[name]
        # Zero values are harmless (docker-py sends some); a top-level [] for the path lists is not.
        if value if canonical not in ("MaskedPaths", "ReadonlyPaths") else value is not None:
            raise Denied(
                "no-toplevel-hostconfig",
                canonical,
                f"{canonical} was sent at the top level of the body, where old API versions read it; "
                "put it inside HostConfig.",
            )
    image = as_str(body[top["image"]], "Image") if "image" in top else ""
    if image and not settings.image_allowed(image):
        raise Denied(
            "registry",
            "Image",
            f"Image {image!r} is not from an allowed registry ({', '.join(settings.allowed_registries)}).",
        )
    body = dict(body)  # the caller's dicts stay untouched: we only ever write to these two
    key = top.setdefault("hostconfig", "HostConfig")
    host_config = dict(as_map(body.get(key), "HostConfig"))
    missing: _Missing = {}
    changed = _check_host_config(_View(host_config, "HostConfig"), settings, facts, missing)
    if "networkingconfig" in top:
        check_endpoints(as_map(body[top["networkingconfig"]], "NetworkingConfig"), "NetworkingConfig", facts)
    create_missing_volumes(missing, facts)  # last: a refused create leaves no volume behind
    if changed:
        body[key] = host_config
    return body, changed


def check_container_update(body: dict[str, Any], settings: PolicySettings) -> None:
    """`POST /containers/{id}/update`: the same device, cgroup and limit rules as create (no defaults), and
    no field the engine's update does not read (Links, Binds...: it would ignore them silently)."""
    for key in body:
        if fold_key(key) not in _UPDATE_FIELDS:
            raise Denied(
                "unknown-field", key, f"{key} cannot be changed by an update; recreate the container."
            )
    _check_resources(_View(body, ""), settings, create=False)


def check_exec_create(body: dict[str, Any], facts: Facts, container_ref: str) -> None:
    """`POST /containers/{id}/exec`: no privileged exec, and only into your own containers."""
    if not facts.owns_container(container_ref.removeprefix("/")):
        raise Denied(
            "exec-not-owned", "container", f"Container {container_ref!r} is not yours; exec into your own."
        )
    if _View(body, "").flag("Privileged"):
        raise Denied(
            "no-privileged",
            "Privileged",
            "Privileged is true, and a privileged exec is for host admins; drop it.",
        )
