"""The stack config: defaults, Pulumi.yaml and README made from its declarations, and one clear error per bad value."""

from pathlib import Path

import pytest

from render.distros import FAMILIES
from settings import LETSENCRYPT_PRODUCTION, LETSENCRYPT_STAGING, Listen, SettingsError, parse_settings
from settings.constants import DISTRO_FAMILIES, DISTROS
from settings.docs import PULUMI_YAML, README, pulumi_yaml, readme_with_table
from testbed.configs import FLEET, FULL, IP_ADDRESS_NODE, MINIMAL, fleet_stack, settings_of
from testbed.credentials import BASIC_AUTH, HOST_KEY, SECRETS, SSH_KEY, openssh_key

ROOT = Path(__file__).resolve().parent.parent


def parse(raw, secrets=SECRETS):
    return parse_settings(raw, stack="test", secrets=secrets)


def problems_of(raw, secrets=SECRETS) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse(raw, secrets)
    return caught.value.problems


def test_minimal_config_takes_every_default():
    settings = parse(MINIMAL)
    assert settings.ssh_host == "203.0.113.10" and settings.ssh_port == 22 and settings.ssh_user == "root"
    assert settings.acme_server == LETSENCRYPT_PRODUCTION and settings.acme_ca_bundle is None
    assert settings.acme_profile is None  # the CA's default
    assert settings.distro == "auto" and settings.pactus_dir == "/root/pactus" and settings.pactus_service is None
    assert settings.grpc.enable and settings.grpc.listen == Listen("127.0.0.1", 50051)
    assert not settings.jsonrpc.enable and settings.jsonrpc.listen == Listen("127.0.0.1", 8545)
    assert settings.jsonrpc.origins == () and settings.jsonrpc.path == "/jsonrpc"
    assert not settings.http.enable and settings.http.base_path == "/http" and not settings.http.enable_cors
    assert settings.expose_wallet is False and (settings.jsonrpc.enable, settings.http.enable) == (False, False)
    assert settings.wallet_networks == () and not settings.wallet_routed
    assert settings.expose_sign_message_with_private_key is False
    assert settings.grpc.path_prefix == "/grpc-web"  # where Pactus's guide points the GUI


def test_full_config_is_read_as_given():
    settings = parse(FULL)
    assert settings.ssh_host == "10.0.0.5" and settings.ssh_port == 2222 and settings.ssh_user == "deploy"
    assert settings.manage_dns and settings.cloudflare_zone_id == FULL["cloudflareZoneId"]
    assert settings.acme_server == LETSENCRYPT_STAGING
    assert settings.jsonrpc.origins == ("https://wallet.example.com",)
    assert settings.grpc.enable and settings.jsonrpc.enable and settings.http.enable and not settings.expose_wallet
    assert settings.pactus_config == {"node": {"reward_addresses": ["pc1zexampleaddress"]}}


def test_ipv6_is_optional_and_normalised():
    assert parse(MINIMAL).host_ipv6 is None
    assert parse({**MINIMAL, "hostIpv6": "2A01:4F8:C0C:1234:0:0:0:1"}).host_ipv6 == "2a01:4f8:c0c:1234::1"


def test_a_node_without_a_domain_gets_a_certificate_for_its_ip_address():
    settings = parse(IP_ADDRESS_NODE)
    assert settings.domain is None and settings.name == "203.0.113.10"
    assert settings.certificate_profile == "shortlived"  # Let's Encrypt's only profile for addresses
    assert not settings.dns_record  # manageDns defaults to true: there is no name to publish
    test_ca = parse({**IP_ADDRESS_NODE, "acmeServer": "https://ca.example.com/dir", "acmeProfile": "minutes"})
    assert test_ca.certificate_profile == "minutes"  # a test CA may name its own profile


def test_domain_is_normalised():
    assert parse({**MINIMAL, "domain": "Node1.Example.COM."}).domain == "node1.example.com"


def test_pulumi_yaml_and_readme_say_what_the_declarations_say():
    """Both are made from settings/model.py: `python -m settings.docs` after changing a key."""
    assert PULUMI_YAML.read_text() == pulumi_yaml()
    assert README.read_text() == readme_with_table(README.read_text())


@pytest.mark.parametrize(
    "override, key, only_problem",
    [
        ({"grpc": {"listen": 50051}}, "grpc.listen", "must be a string"),
        ({"host": 10}, "host", "must be a string"),
        ({"hostIpv6": False}, "hostIpv6", "must be a string"),
        ({"pactusDir": 7}, "pactusDir", "must be a string"),
        ({"grpc": {"listen": "127.0.0.1:0"}}, "grpc.listen", "a port number from 1 to 65535"),
    ],
)
def test_a_wrong_value_is_one_problem_of_its_key(override, key, only_problem):
    problems = [p for p in problems_of({**MINIMAL, **override}) if p.startswith(f"pactus-secure:{key} =")]
    assert len(problems) == 1 and problems[0].endswith(only_problem), problems


@pytest.mark.parametrize("stack", FLEET)
def test_each_example_node_is_a_valid_config(stack):
    settings = parse(fleet_stack(stack))
    assert settings.acme_email == "ops@example.com" and settings.ssh_user == "deploy"  # shared
    assert settings.rate_limit.requests_per_second == 20 and settings.grpc.enable


def test_example_nodes_differ_where_nodes_must():
    nodes = {stack: parse(fleet_stack(stack)) for stack in FLEET}
    assert len({n.domain for n in nodes.values()}) == len({n.host for n in nodes.values()}) == 3
    assert nodes["testnet-node1"].acme_server == LETSENCRYPT_STAGING
    assert nodes["mainnet-node1"].acme_server == LETSENCRYPT_PRODUCTION
    assert nodes["testnet-node1"].pactus_dir != nodes["mainnet-node1"].pactus_dir


BAD_VALUES = [
    # (override, key named in the message, words of the fix)
    ({"domain": None}, "pactus-secure:domain = (not set)", "pulumi config set domain"),
    ({"domain": None}, "pactus-secure:domain = (not set)", "ipAddressCertificate true"),
    ({"ipAddressCertificate": "true"}, "ipAddressCertificate = True", "unset one of them"),
    ({"domain": None, "ipAddressCertificate": "true", "hostIpv6": "2001:db8::1"}, "hostIpv6", "alone"),
    (
        {"domain": None, "ipAddressCertificate": "true", "acmeProfile": "classic"},
        "acmeProfile = 'classic'",
        "under the shortlived profile only",
    ),
    (
        {"domain": None, "ipAddressCertificate": "true", "cloudflareZoneId": "0123456789abcdef0123456789abcdef"},
        "cloudflareZoneId",
        "gets no DNS record",
    ),
    ({"certbot": "snap"}, "certbot = 'snap'", "must be one of auto, distro, pypi"),
    ({"host": None}, "pactus-secure:host = (not set)", "required"),
    ({"acmeEmail": None}, "pactus-secure:acmeEmail = (not set)", "required"),
    ({"domain": "203.0.113.10"}, "domain = '203.0.113.10'", "not an IP address"),
    ({"domain": "*.example.com"}, "domain = '*.example.com'", "wildcard"),
    ({"domain": "nodé.example.com"}, "domain", "xn--nod-dma.example.com"),
    ({"domain": "a" * 64 + ".example.com"}, "domain", "fully qualified hostname"),
    ({"domain": "localhost"}, "domain = 'localhost'", "fully qualified hostname"),
    ({"domain": ".".join(["a" * 60] * 5) + ".com"}, "domain", "253 characters at most"),
    ({"domain": "node_1.example.com"}, "domain", "letters, digits and hyphens"),
    ({"host": "node1.example.com"}, "host = 'node1.example.com'", "IPv4 address"),
    ({"host": "2001:db8::1"}, "host = '2001:db8::1'", "IPv4 address"),
    ({"hostIpv6": "fe80::1"}, "hostIpv6 = 'fe80::1'", "not a public address"),
    ({"hostIpv6": "fd00::10"}, "hostIpv6 = 'fd00::10'", "set allowPrivateHost true"),
    ({"hostIpv6": "203.0.113.10"}, "hostIpv6 = '203.0.113.10'", "public IPv6 address"),
    ({"sshPort": "70000"}, "sshPort = '70000'", "1 to 65535"),
    ({"sshPort": "ssh"}, "sshPort = 'ssh'", "1 to 65535"),
    ({"sshUser": "root; rm -rf /"}, "sshUser", "Unix user name"),
    ({"manageDns": "yes"}, "manageDns = 'yes'", "true or false"),
    ({"manageDns": "true"}, "cloudflareZoneId = (not set)", "manageDns false"),
    ({"manageDns": "true", "cloudflareZoneId": "my-zone"}, "cloudflareZoneId = 'my-zone'", "32-character hex"),
    ({"acmeEmail": "ops-at-example.com"}, "acmeEmail", "email address"),
    ({"acmeServer": "http://acme.example.com/dir"}, "acmeServer", "https URL"),
    ({"acmeServer": "prod"}, "acmeServer = 'prod'", "`production`, `staging`"),
    ({"acmeProfile": "short lived"}, "acmeProfile = 'short lived'", "a profile name the ACME server offers"),
    ({"acmeProfile": "-tlsserver"}, "acmeProfile", "a profile name the ACME server offers"),
    ({"acmeCaBundle": "ca.pem"}, "acmeCaBundle = 'ca.pem'", "absolute path"),
    ({"distro": "gentoo"}, "distro = 'gentoo'", "auto, debian, redhat, arch"),
    ({"pactusDir": "~/pactus"}, "pactusDir", "absolute path"),
    ({"pactusDir": "/root/pactus dir"}, "pactusDir", "absolute path"),
    ({"pactusService": "pactus service"}, "pactusService", "systemd unit"),
    ({"grpc": {"listen": "0.0.0.0:50051"}}, "grpc.listen = '0.0.0.0:50051'", "loopback"),
    ({"grpc": {"listen": "[::]:50051"}}, "grpc.listen = '[::]:50051'", "loopback"),
    ({"grpc": {"listen": "10.0.0.5:50051"}}, "grpc.listen = '10.0.0.5:50051'", "allowPrivateListen true"),
    ({"grpc": {"listen": "0.0.0.0:50051"}, "allowPrivateListen": "true"}, "grpc.listen", "loopback"),
    ({"grpc": {"listen": "8.8.8.8:50051"}, "allowPrivateListen": "true"}, "grpc.listen", "public or wildcard"),
    ({"grpc": {"listen": "127.0.0.1:70000"}}, "grpc.listen", "1 to 65535"),
    ({"jsonrpc": {"enable": True, "listen": "203.0.113.10:8545"}}, "jsonrpc.listen", "loopback"),
    ({"grpc": {"listen": "127.0.0.1"}}, "grpc.listen = '127.0.0.1'", "address:port"),
    ({"http": {"enable": True, "listen": "127.0.0.1:443"}}, "http.listen", "belong to Nginx"),
    ({"jsonrpc": {"enable": True, "listen": "127.0.0.1:50051"}}, "jsonrpc.listen", "grpc listens on port 50051 too"),
    ({"jsonrpc": {"enable": True, "path": "jsonrpc"}}, "jsonrpc.path = 'jsonrpc'", "absolute URL path"),
    ({"jsonrpc": {"enable": True, "path": "/json rpc"}}, "jsonrpc.path", "no spaces"),
    ({"jsonrpc": {"enable": True, "path": "/rpc/"}}, "jsonrpc.path", "no trailing slash"),
    ({"jsonrpc": {"enable": True, "path": "/pactus.Blockchain"}}, "jsonrpc.path", "gRPC service paths"),
    ({"jsonrpc": {"enable": True, "path": "/http/rpc"}, "http": {"enable": True}}, "jsonrpc.path", "overlaps"),
    ({"jsonrpc": {"enable": True, "origins": ["https://wallet.example.com/app"]}}, "jsonrpc.origins", "scheme://host"),
    ({"jsonrpc": {"enable": True, "origins": ["*"]}}, "jsonrpc.origins = '*'", "jsonrpc.allowAnyOrigin true"),
    ({"jsonrpc": {"enable": True, "origins": ["wallet.example.com"]}}, "jsonrpc.origins", "scheme://host"),
    ({"jsonrpc": {"enable": True, "origins": "https://wallet.example.com"}}, "jsonrpc.origins", "list of origins"),
    ({"jsonrpc": {"enable": True, "cors": True}}, "jsonrpc.cors", "unknown field"),
    ({"grpc": "true"}, "pactus-secure:grpc = 'true'", "must be an object"),
    ({"grpc": {"enable": False}}, "grpc.enable = False", "no API is enabled"),
    ({"exposeWallet": "true", "grpc": {"enable": False}}, "exposeWallet", "grpc.enable true"),
    ({"exposeWallet": "true"}, "exposeWallet", "set basicAuth (--secret) and grpc.basicAuth true"),
    ({"exposeWallet": "true", "grpc": {"basicAuth": True}}, "exposeWallet", "set basicAuth (--secret)"),
    ({"walletNetworks": ["0.0.0.0/0"]}, "walletNetworks = '0.0.0.0/0'", "wider than a /16"),
    ({"walletNetworks": ["10.0.0.0/15"]}, "walletNetworks", "wider than a /16"),
    ({"walletNetworks": ["::/0"]}, "walletNetworks", "wider than a /48"),
    ({"walletNetworks": ["10.1.2.3/24"]}, "walletNetworks", "has host bits set"),
    ({"walletNetworks": ["office"]}, "walletNetworks", "no network in CIDR"),
    ({"walletNetworks": "10.1.2.0/24"}, "walletNetworks", "list of networks"),
    ({"metrics": {"enable": True}}, "metrics.enable", "list your Prometheus's networks in metrics.scrapers"),
    ({"metrics": {"enable": True, "scrapers": ["0.0.0.0/0"]}}, "metrics.scrapers", "wider than a /16"),
    (
        {"metrics": {"enable": True, "scrapers": ["10.1.0.0/16"]}, "html": {"listen": "127.0.0.1:50051"}},
        "html.listen",
        "grpc listens on port 50051 too",
    ),
    (
        {"metrics": {"enable": True, "scrapers": ["10.1.0.0/16"], "path": "/http/metrics"}, "http": {"enable": True}},
        "http.basePath",
        "overlaps metrics.path",
    ),
    ({"metrics": {"enable": True, "scrapers": ["10.1.0.0/16"]}, "grpc": {"enable": False}}, "grpc.enable", "no API"),
    ({"walletNetworks": ["10.1.2.0/24"], "grpc": {"enable": False}}, "walletNetworks", "grpc.enable true"),
    ({"http": {"enable": True, "enableCors": True}}, "http.enableCors = True", "http.allowAnyOrigin true"),
    ({"grpc": {"enable": False}, "jsonrpc": {"enable": True}}, "grpc.enable = False", "through its gRPC server"),
    ({"sshHostKey": "AAAAC3NzaC1lZDI1NTE5AAAAIG"}, "sshHostKey", "ssh-keyscan -t ed25519"),
    ({"sshHostKey": "ssh-ed25519 AAAA C3Nz extra words"}, "sshHostKey", "ssh-keyscan -t ed25519"),
    ({"grpc": {"pathPrefix": "grpc"}}, "grpc.pathPrefix", "absolute URL path"),
    ({"grpc": {"pathPrefix": "/http"}, "http": {"enable": True}}, "grpc.pathPrefix", "overlaps http.basePath"),
    ({"domain": "node1.example.com\n"}, "domain", "control character"),
    ({"domain": " node1.example.com"}, "domain", "surrounding spaces"),
    ({"jsonrpc": {"enable": True, "path": "/rpc/.."}}, "jsonrpc.path", "not . or .. alone"),
    ({"http": {"enable": True, "basePath": "/./http"}}, "http.basePath", "not . or .. alone"),
    ({"acmeServer": "https://acme.example.com/dir\nid"}, "acmeServer", "control character"),
    ({"acmeServer": "https://acme.example.com/dir;id"}, "acmeServer", "letters, digits"),
    ({"acmeServer": "https://acme.example.com/a b"}, "acmeServer", "letters, digits"),
    ({"pactusConfig": {"grpc": {"enable": True}}}, "pactusConfig.grpc", "set `grpc` instead"),
    ({"pactusConfig": {"html": {"enable": True}}}, "pactusConfig.html", "set `html` instead"),
    ({"pactusConfig": {"gateway": {}}}, "pactusConfig.gateway", "not a section of Pactus v1.16"),
    ({"pactusConfig": {"consensus": {}}}, "pactusConfig.consensus", "not a section of Pactus v1.16"),
    ({"pactusConfig": {"node": {"reward_adresses": []}}}, "pactusConfig.node.reward_adresses", "no such key"),
    (
        {"pactusConfig": {"node": {"reward_addresses": "pc1z"}}},
        "pactusConfig.node.reward_addresses",
        "a list of strings",
    ),
    (
        {"pactusConfig": {"sync": {"firewall": {"rate_limit": {"block_topic": "1"}}}}},
        "pactusConfig.sync.firewall.rate_limit.block_topic = '1'",
        "a whole number",
    ),
    ({"pactusConfig": {"logger": {"levels": {"_sync": 3}}}}, "pactusConfig.logger.levels._sync = 3", "a string"),
    (
        {"pactusConfig": {"zeromq": {"zmqpubrawtx": "tcp://0.0.0.0:28332"}}},
        "pactusConfig.zeromq.zmqpubrawtx",
        "tcp:// address on loopback",
    ),
    (
        {"pactusConfig": {"zeromq": {"zmqpubrawtx": "tcp://127.0.0.1:28332\n"}}},
        "pactusConfig.zeromq.zmqpubrawtx",
        "has a control character",
    ),
    ({"html": {"enable": True, "listen": "0.0.0.0:8090"}}, "html.listen", "loopback"),
    ({"html": {"enable": True, "listen": "127.0.0.1:80"}}, "html.listen", "belong to Nginx"),
    ({"html": {"pprof": True}}, "html.pprof", "unknown field"),
    ({"acmeEmial": "ops@example.com"}, "acmeEmial", "unknown key"),
    ({"sshDialErrorLimit": "0"}, "sshDialErrorLimit = '0'", "from 1 to 100"),
    ({"sshPerDialTimeout": "forever"}, "sshPerDialTimeout = 'forever'", "seconds from 1 to 300"),
    ({"firewall": "maybe"}, "firewall = 'maybe'", "true or false"),
    ({"rateLimit": {"requestsPerSecond": 0}}, "rateLimit.requestsPerSecond = 0", "from 1 to 10000"),
    ({"rateLimit": {"burst": "lots"}}, "rateLimit.burst = 'lots'", "number of requests"),
    ({"rateLimit": {"perMinute": 60}}, "rateLimit.perMinute", "unknown field; rateLimit has enable"),
    ({"maxBodySize": {"jsonrpc": "1 GB"}}, "maxBodySize.jsonrpc = '1 GB'", "e.g. 256k"),
    ({"grpc": {"basicAuth": True}}, "grpc.basicAuth = True", "--secret basicAuth"),
    ({"basicAuth": "operator:hunter2"}, "basicAuth = (secret)", "set it with `pulumi config set --secret basicAuth`"),
    # The second security review: each of these passed before.
    ({"sshHost": "fe80::1%$(reboot)"}, "sshHost", "scope id"),
    ({"hostIpv6": "fe80::1%eth0"}, "hostIpv6", "scope id"),
    ({"pactusService": "-Hroot@evil.example.com"}, "pactusService", "not starting with -"),
    ({"host": "127.0.0.1"}, "host = '127.0.0.1'", "set allowPrivateHost true"),
    ({"host": "0.0.0.0"}, "host = '0.0.0.0'", "not a public address"),
    ({"host": "10.0.0.5"}, "host = '10.0.0.5'", "perhaps the machine running pulumi"),
    (
        {"allowPrivateListen": "true", "html": {"enable": True, "enablePprof": True, "listen": "10.0.0.5:8090"}},
        "html.listen",
        "Go's profiler",
    ),
    ({"maxBodySize": {"jsonrpc": "999999m"}}, "maxBodySize.jsonrpc", "above 256k"),
    ({"maxBodySize": {"grpc": "5m"}}, "maxBodySize.grpc", "above 4m"),
    ({"maxBodySize": {"http": "2m"}}, "maxBodySize.http", "above 1m"),
    ({"pactusDir": "/var/lib/pactus-secure/acme/node"}, "pactusDir", "the ACME webroot"),
    ({"pactusDir": "/"}, "pactusDir = '/'", "a system folder"),
    ({"pactusDir": "/etc"}, "pactusDir = '/etc'", "a system folder"),
    ({"pactusDir": "/usr/local/pactus"}, "pactusDir", "a system folder"),
    (
        {"pactusConfig": {"network": {"max_connections": 2**64}}},
        "pactusConfig.network.max_connections",
        "from -2^63 to 2^63-1",
    ),
    ({"pactusConfig": {"store": {"retention_days": -1}}}, "pactusConfig.store.retention_days", "from 0 to 2^32-1"),
    ({"pactusConfig": {"sync": {"moniker": "node'''1"}}}, "pactusConfig.sync.moniker", "multi-line string"),
    ({"html": {"enable": True, "listen": "127.0.0.1:50051"}}, "html.listen", "grpc listens on port 50051 too"),
    ({"domain": "127.1"}, "domain = '127.1'", "not an IP address"),
    ({"domain": "0x7f.0.0.1"}, "domain = '0x7f.0.0.1'", "not an IP address"),
    (
        {"sshHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPniercauu1o3SylZuQW4OiFKeCkGocVgA4o3V9"},
        "sshHostKey",
        "a cut-off key does not decode",
    ),
    (
        {"pactusConfig": {"logger": {"filename": "/root/.ssh/authorized_keys"}}},
        "pactusConfig.logger.filename",
        "must stay inside pactusDir",
    ),
    ({"pactusConfig": {"store": {"path": "../../etc"}}}, "pactusConfig.store.path", "must stay inside pactusDir"),
    (
        {"pactusConfig": {"network": {"network_key": "/etc/shadow"}}},
        "pactusConfig.network.network_key",
        "must stay inside pactusDir",
    ),
    (
        {"firewall": "true", "pactusConfig": {"network": {"listen_addrs": ["/ip4/0.0.0.0/tcp/99999"]}}},
        "pactusConfig.network.listen_addrs",
        "ports go from 1 to 65535",
    ),
    ({"precheckTimeout": "²"}, "precheckTimeout = '²'", "a number of seconds from 0 to 3600"),
    # Let's Encrypt's directory however it is spelt: its IP-address rule holds.
    *(
        (
            {"domain": None, "ipAddressCertificate": "true", "acmeProfile": "classic", "acmeServer": url},
            "acmeProfile = 'classic'",
            "under the shortlived profile only",
        )
        for url in (
            "https://acme-v02.api.letsencrypt.org/directory/",
            "https://ACME-v02.api.LetsEncrypt.org/directory",
            "https://acme-v02.api.letsencrypt.org:443/directory",
            "https://acme-staging-v02.api.letsencrypt.org./directory",
        )
    ),
    *(
        ({"host": address, "allowPrivateHost": "true"}, f"host = '{address}'", "is a multicast address")
        for address in ("224.0.0.1", "239.1.2.3")
    ),
    ({"hostIpv6": "ff0e::1"}, "hostIpv6 = 'ff0e::1'", "is a multicast address"),
    ({"acmeEmail": "--help@example.com"}, "acmeEmail = '--help@example.com'", "not starting with -"),
    (
        {"pactusConfig": "[node]\nreward_addresses = []"},
        "pactusConfig",
        "must be an object of config.toml sections, not TOML text",
    ),
    *(
        ({"pactusDir": folder}, f"pactusDir = '{folder}'", "where certbot from PyPI lives")
        for folder in (
            "/opt/certbot",
            "/opt/certbot/",
            "/opt/certbot/x",
            "/opt/certbot.previous",
            "/opt/pactus-secure-certbot/a",
        )
    ),
    ({"sshPort": "２２"}, "sshPort", "a port number from 1 to 65535"),
    ({"rateLimit": {"burst": "٣"}}, "rateLimit.burst", "a number of requests"),
]


@pytest.mark.parametrize(
    "override, names, fix", BAD_VALUES, ids=[f"{i}-{names.split(' ')[0]}" for i, (_, names, _) in enumerate(BAD_VALUES)]
)
def test_each_bad_value_gets_one_clear_error(override, names, fix):
    raw = {k: v for k, v in {**MINIMAL, **override}.items() if v is not None}
    problems = problems_of(raw)
    matching = [p for p in problems if names in p]
    assert matching, problems
    assert fix in matching[0], matching[0]


def test_options_that_widen_exposure_are_accepted_only_when_asked_for():
    private = parse({**MINIMAL, "allowPrivateListen": "true", "grpc": {"listen": "10.0.0.5:50051"}})
    assert str(private.grpc.listen) == "10.0.0.5:50051"
    anyone = parse({**MINIMAL, "jsonrpc": {"enable": True, "origins": ["*"], "allowAnyOrigin": True}})
    assert anyone.jsonrpc.origins == ("*",)
    cors = parse({**MINIMAL, "http": {"enable": True, "enableCors": True, "allowAnyOrigin": True}})
    assert cors.http.enable_cors
    office = parse({**MINIMAL, "walletNetworks": ["198.51.100.0/24", "2001:db8:5::/48", "203.0.113.7"]})
    assert office.wallet_routed and office.wallet_networks == ("198.51.100.0/24", "2001:db8:5::/48", "203.0.113.7")
    assert parse({**MINIMAL, "exposeSignMessageWithPrivateKey": True}).expose_sign_message_with_private_key


def test_limits_and_ssh_retries_have_defaults_and_can_be_set():
    settings = parse(MINIMAL)
    assert (settings.rate_limit.enable, settings.rate_limit.requests_per_second, settings.rate_limit.burst) == (
        True,
        10,
        20,
    )
    assert (settings.max_body_size.grpc, settings.max_body_size.jsonrpc, settings.max_body_size.http) == (
        "1m",
        "32k",
        "64k",
    )
    assert (settings.ssh_dial_error_limit, settings.ssh_per_dial_timeout) == (5, 10)
    tuned = parse(
        {
            **MINIMAL,
            "rateLimit": {"enable": False, "burst": 0},
            "maxBodySize": {"http": "8K"},
            "sshDialErrorLimit": "2",
            "sshPerDialTimeout": 3,
        }
    )
    assert tuned.rate_limit.enable is False and tuned.rate_limit.burst == 0 and tuned.max_body_size.http == "8k"
    assert (tuned.ssh_dial_error_limit, tuned.ssh_per_dial_timeout) == (2, 3)


BAD_SECRETS = [
    (
        {"sshPrivateKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicKeyNotPrivate ops@laptop"},
        "sshPrivateKey",
        "is a public key",
    ),
    ({"sshPrivateKey": "my-key-s3cret"}, "sshPrivateKey", "not a private key file"),
    ({"sshPrivateKey": SSH_KEY.replace("-----END OPENSSH", "-----END RSA")}, "sshPrivateKey", "not a private key file"),
    ({"sshPrivateKey": openssh_key(b"aes256-ctr")}, "sshPrivateKey", "passphrase"),
    (
        {
            "sshPrivateKey": "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
            "DEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        },
        "sshPrivateKey",
        "passphrase",
    ),
    (
        {"sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n"},
        "sshPrivateKey",
        "damaged",
    ),
    ({"basicAuth": "operator:correct-horse"}, "basicAuth", "htpasswd -nB"),
    ({"basicAuth": "operator:$apr1$abcdefgh$0123456789abcdefghijkl"}, "basicAuth", "bcrypt"),
]


@pytest.mark.parametrize(
    "secrets, key, fix", BAD_SECRETS, ids=[f"{i}-{key}" for i, (_, key, _) in enumerate(BAD_SECRETS)]
)
def test_a_malformed_secret_is_named_with_the_fix_and_never_shown(secrets, key, fix):
    problems = problems_of(MINIMAL, secrets={**SECRETS, **secrets})
    (problem,) = [p for p in problems if f"pactus-secure:{key} =" in p]
    assert fix in problem and f"{key} = (secret)" in problem
    words = [word for word in secrets[key].split() if len(word) > 7 and "-----" not in word]
    assert words and not any(word in problem for word in words), problem


def test_well_formed_secrets_pass():
    for key_text in (
        SSH_KEY,
        SSH_KEY.replace("\n", "\r\n"),
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    ):
        assert parse(MINIMAL, secrets={**SECRETS, "sshPrivateKey": key_text}).domain == "node1.example.com"
    settings = parse({**MINIMAL, "grpc": {"basicAuth": True}}, secrets={**SECRETS, "basicAuth": BASIC_AUTH + "\n"})
    assert settings.credential_set and settings.grpc.basic_auth


def test_every_problem_of_a_config_is_reported_at_once():
    problems = problems_of({"domain": "*.x", "host": "nope", "sshPort": "0", "acmeEmail": "x"}, secrets={})
    for key in ("domain", "host", "sshPort", "acmeEmail", "sshPrivateKey"):
        assert any(f"pactus-secure:{key} =" in p for p in problems), key


def test_missing_secrets_are_named_with_the_command_that_sets_them():
    problems = problems_of({**MINIMAL, "manageDns": "true", "cloudflareZoneId": "0" * 32}, secrets={})
    assert any("sshPrivateKey = (not set)" in p and "--secret sshPrivateKey" in p for p in problems)
    assert any("cloudflare:apiToken = (not set)" in p and "--secret cloudflare:apiToken" in p for p in problems)


def test_no_token_is_needed_when_dns_is_managed_elsewhere():
    assert parse(MINIMAL, secrets={"sshPrivateKey": SSH_KEY}).manage_dns is False


@pytest.mark.parametrize(
    "given",
    [
        HOST_KEY,
        f"203.0.113.10 {HOST_KEY}",  # as ssh-keyscan prints it
        f"{HOST_KEY} root@node1",  # as a .pub file holds it
    ],
)
def test_the_ssh_host_key_is_taken_in_the_forms_operators_have_it(given):
    settings = settings_of({**MINIMAL, "sshHostKey": given})
    assert settings.ssh_host_key == HOST_KEY


def test_a_secret_pasted_into_a_plain_key_is_never_shown_in_the_error():
    pasted = SSH_KEY  # a private key where the host key belongs
    problems = problems_of({**MINIMAL, "sshHostKey": pasted})
    (problem,) = [p for p in problems if p.startswith("pactus-secure:sshHostKey")]
    assert "BEGIN" not in problem and "OPENSSH" not in problem and "it looks like a secret" in problem
    token = problems_of({**MINIMAL, "acmeEmail": "cf_" + "Zx9" * 14})  # a token-shaped value
    assert not any("Zx9Zx9" in p for p in token)


def test_a_long_value_in_an_error_is_cut_short():
    problems = problems_of({**MINIMAL, "distro": " ".join(["debian"] * 40)})
    (problem,) = [p for p in problems if p.startswith("pactus-secure:distro")]
    assert "... (279 characters)" in problem and len(problem) < 200


def test_the_suggested_keyscan_command_quotes_every_value():
    """Were a hostile sshHost ever to pass the checks, the pasted command would not run it."""
    import dataclasses

    from program import unpinned_host_key_warning

    hostile = dataclasses.replace(parse(MINIMAL), ssh_host="fe80::1%$(reboot)")
    assert "-- 'fe80::1%$(reboot)' | cut" in unpinned_host_key_warning(hostile)
    assert "-- node1.example.com | cut" in unpinned_host_key_warning(
        dataclasses.replace(parse(MINIMAL), ssh_host="node1.example.com")
    )


def test_every_distribution_the_settings_accept_has_its_facts():
    assert tuple(FAMILIES) == DISTRO_FAMILIES
    assert all(parse({**MINIMAL, "distro": distro}).distro == distro for distro in DISTROS)
    assert any(
        "distro = 'gentoo': must be one of auto, debian, redhat, arch" in p
        for p in problems_of({**MINIMAL, "distro": "gentoo"})
    )
