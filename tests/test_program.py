"""The Pulumi program under mocks: what it registers, in which order, and what a change re-runs."""

import json

import pulumi
import pytest

from components import names as n
from render.host_layout import HostLayout
from testbed.configs import FLEET, FULL, MINIMAL, STACK, fleet_stack
from testbed.credentials import BASIC_AUTH, CLOUDFLARE_TOKEN, HOST_KEY, SSH_KEY, openssh_key
from testbed.pulumi_mocks import (
    SECRET_MARK,
    SECRET_SIG,
    SERVED,
    deploy,
    is_secret,
    secret_occurrences,
    unsecret,
)

COMMAND = "command:remote:Command"
CHECK = "command:local:Command"
LAYOUT = HostLayout("node1.example.com")


@pytest.fixture(scope="module")
def full():
    return deploy(FULL)


@pytest.fixture(scope="module")
def minimal():
    return deploy(MINIMAL)


LOCKED_DOWN = {**FULL, "firewall": "true", "grpc": {**FULL["grpc"], "basicAuth": True}}


@pytest.fixture(scope="module")
def locked_down():
    """Every option that adds a step or a secret: firewall, basic auth for Nginx and for Pactus's gRPC."""
    return deploy(LOCKED_DOWN, basic_auth=BASIC_AUTH)


def test_full_config_registers_the_whole_graph(full):
    types = sorted(r.type for r in full.resources)
    assert types == sorted(
        [
            "pactus-secure:index:SecureNode",
            "pactus-secure:index:DnsRecord",
            "cloudflare:index/dnsRecord:DnsRecord",
            "pactus-secure:index:HostBase",
            "pactus-secure:index:Proxy",
            "pactus-secure:index:NodeConfig",
            *[COMMAND] * 5,
            CHECK,
        ]
    )
    assert sorted(r.name for r in full.of_type(COMMAND)) == sorted(n.REQUIRED_STEPS)


def test_minimal_config_has_no_dns_record(minimal):
    assert not minimal.of_type("cloudflare:index/dnsRecord:DnsRecord")
    assert not minimal.of_type("pactus-secure:index:DnsRecord")
    assert len(minimal.of_type(COMMAND)) == 5


def test_every_resource_is_parented_to_its_component(full):
    node = full.named(n.NODE)
    assert node.type == "pactus-secure:index:SecureNode" and node.parent.endswith(f"::pactus-secure-{STACK}")
    for resource in full.resources:
        if resource is node:
            continue
        parent = full.by_urn(resource.parent)
        if resource.type.startswith("pactus-secure:index:") or resource.type == CHECK:  # the node's parts
            assert parent is node, resource.name
        else:
            assert parent.type.startswith("pactus-secure:index:") and parent is not node, resource.name


def test_the_a_record_points_at_the_host_without_cloudflares_proxy(full):
    (record,) = full.of_type("cloudflare:index/dnsRecord:DnsRecord")
    assert record.inputs["zoneId"] == FULL["cloudflareZoneId"]
    assert record.inputs["name"] == "node1.example.com" and record.inputs["type"] == "A"
    assert record.inputs["content"] == "203.0.113.10"
    assert record.inputs["ttl"] == 1 and record.inputs["proxied"] is False
    assert STACK in record.inputs["comment"]


def test_ipv6_adds_an_aaaa_record_beside_the_a_record():
    deployment = deploy({**FULL, "hostIpv6": "2a01:4f8:c0c:1234::1"})
    records = {r.inputs["type"]: r for r in deployment.of_type("cloudflare:index/dnsRecord:DnsRecord")}
    assert sorted(records) == ["A", "AAAA"] and records["AAAA"].inputs["content"] == "2a01:4f8:c0c:1234::1"
    assert records["AAAA"].inputs["proxied"] is False and records["AAAA"].inputs["name"] == "node1.example.com"
    before, after = inputs_by_name(deploy(FULL)), inputs_by_name(deployment)
    assert set(after) - set(before) == {n.DNS + "-aaaa"}
    assert sorted(n for n in before if before[n] != after[n]) == [n.HTTP_SITE, n.TLS_SITE]


def test_steps_run_in_the_only_order_that_works(full):
    dns = full.named(n.DNS + "-a")
    host, http_site, certificate, tls_site, pactus = (full.named(step) for step in n.REQUIRED_STEPS)
    assert full.depends_on(host, dns)
    assert full.depends_on(http_site, host)
    assert full.depends_on(certificate, http_site) and full.depends_on(certificate, dns)
    assert full.depends_on(tls_site, certificate)
    for step in (host, http_site, certificate, tls_site):
        assert not full.depends_on(pactus, step) and not full.depends_on(step, pactus)


def test_minimal_order_holds_without_dns(minimal):
    host, http_site, certificate, tls_site, _ = (minimal.named(step) for step in n.REQUIRED_STEPS)
    assert minimal.depends_on(tls_site, certificate) and minimal.depends_on(certificate, http_site)
    assert minimal.depends_on(http_site, host) and host.dependencies == []


def test_scripts_go_to_a_root_shell_on_stdin(full, minimal):
    for command in full.of_type(COMMAND):
        assert command.inputs["create"] == "sudo -n bash -s"  # sshUser deploy
        assert command.inputs["stdin"].startswith("#!/usr/bin/env bash\n")
        assert command.inputs["addPreviousOutputInEnv"] is False
    assert {c.inputs["create"] for c in minimal.of_type(COMMAND)} == {"bash -s"}  # root


def connection_of(deployment, step):
    """The connection holds the key, so the whole of it is a secret."""
    wrapped = deployment.named(step).inputs["connection"]
    assert wrapped[SECRET_SIG] == SECRET_MARK
    return unsecret(wrapped)


def test_connection_uses_the_ssh_settings(full, minimal):
    connection = connection_of(full, n.PACKAGES)
    assert (connection["host"], connection["port"], connection["user"]) == ("10.0.0.5", 2222, "deploy")
    assert connection["privateKey"] == SSH_KEY
    assert (connection["dialErrorLimit"], connection["perDialTimeout"]) == (5, 10)
    assert connection_of(minimal, n.PACKAGES)["host"] == "203.0.113.10"


def test_each_step_carries_what_it_installs(full):
    assert '"$CERTBOT" "${args[@]}"' in full.named(n.CERTIFICATE).inputs["stdin"]
    assert "grpc_pass grpc://" in full.named(n.TLS_SITE).inputs["stdin"]
    assert "/.well-known/acme-challenge/" in full.named(n.HTTP_SITE).inputs["stdin"]
    assert 'origins = ["https://wallet.example.com"]' in full.named(n.CONFIG_TOML).inputs["stdin"]


def test_destroy_removes_the_sites_and_keeps_certificates_and_pactus(full):
    for step, path in (
        (n.HTTP_SITE, "/etc/nginx/conf.d/pactus-secure-node1.example.com-http.conf"),
        (n.TLS_SITE, "/etc/nginx/conf.d/pactus-secure-node1.example.com-tls.conf"),
    ):
        delete = full.named(step).inputs["delete"]
        assert delete.startswith("sudo -n bash -s <<'PACTUS_SECURE_END_OF_SCRIPT'\n")
        assert f"SITE={path}\n" in delete and delete.endswith("PACTUS_SECURE_END_OF_SCRIPT\n")
        assert full.named(step).inputs["triggers"] == [path]
    for step in (n.PACKAGES, n.CERTIFICATE, n.CONFIG_TOML):
        assert "delete" not in full.named(step).inputs, step


def test_stack_outputs_name_the_endpoints_and_the_certificate_served(full, minimal):
    served = {
        "certificateExpiry": SERVED.expires,
        "certificateIssuer": SERVED.issuer,
        "renewalDue": SERVED.renewal_due,
        "certbotVersion": "2.1.0",  # what the certificate step said it ran
    }
    assert full.outputs == {
        "grpcTarget": "node1.example.com:443",
        "jsonrpcUrl": "https://node1.example.com/jsonrpc",
        "httpApiUrl": "https://node1.example.com/http/",
        **served,
    }
    assert minimal.outputs == {"grpcTarget": "node1.example.com:443", **served}


def test_the_endpoint_check_calls_every_enabled_api_as_a_user_would():
    check = deploy({**FULL, "checkCaBundle": __file__}, basic_auth=BASIC_AUTH).named(n.CHECK)
    assert json.loads(check.inputs["stdin"]) == {
        "name": "node1.example.com",
        "grpc": True,
        "jsonrpc_path": "/jsonrpc",
        "http_base_path": "/http",
        "basic_auth_required": True,
        "ca_bundle": __file__,
        "port": 443,
        "timeout": 10,
        "rate_limited_tries": 10,
    }


def test_the_endpoint_check_runs_after_every_step_and_again_when_one_changes(full):
    check = full.named(n.CHECK)
    steps = full.of_type(COMMAND)
    assert {r.urn for r in steps} <= set(check.dependencies)
    assert len(check.inputs["triggers"]) == 2 + len(steps)  # the addresses, and a digest of each script
    changed = deploy({**FULL, "jsonrpc": {**FULL["jsonrpc"], "origins": ["https://other.example.com"]}})
    assert changed.named(n.CHECK).inputs["triggers"] != check.inputs["triggers"]
    assert deploy(FULL).named(n.CHECK).inputs["triggers"] == check.inputs["triggers"]
    assert check.inputs["create"] == "venv/bin/python -m clients.endpoint"  # the same in any clone


def inputs_by_name(deployment):
    """The steps and the record; the endpoint check, which runs again after any change, has its own test."""
    return {r.name: json.dumps(r.inputs, sort_keys=True) for r in deployment.resources if r.name != n.CHECK}


def changed_between(before, after):
    one, two = inputs_by_name(before), inputs_by_name(after)
    assert one.keys() == two.keys()
    return sorted(name for name in one if one[name] != two[name])


def test_an_unchanged_stack_changes_no_input(full):
    assert changed_between(full, deploy(FULL)) == []


@pytest.mark.parametrize(
    "override, changed",
    [
        ({"jsonrpc": {**FULL["jsonrpc"], "origins": ["https://other.example.com"]}}, [n.CONFIG_TOML]),
        ({"pactusConfig": {"logger": {"levels": {"sync": "warn"}}}}, [n.CONFIG_TOML]),
        ({"acmeEmail": "security@example.com"}, [n.CERTIFICATE]),
        ({"acmeServer": "production"}, [n.CERTIFICATE]),
        ({"html": {"enable": True}}, [n.CONFIG_TOML]),
        ({"http": {"enable": False}}, [n.CONFIG_TOML, n.TLS_SITE]),
        ({"host": "203.0.113.11"}, [n.CERTIFICATE, n.DNS + "-a"]),  # the self-check names the host it expects
        ({"pactusService": ""}, [n.CONFIG_TOML]),
    ],
)
def test_a_change_reruns_only_the_steps_it_concerns(full, override, changed):
    assert changed_between(full, deploy({**FULL, **override})) == sorted(changed)


def test_a_new_domain_keeps_every_name_and_replaces_the_steps_that_own_its_files(full):
    """The names are fixed, so the engine replaces exactly the steps whose triggers change:
    the new site files are written, then the old ones' undo scripts remove them."""
    renamed = deploy({**FULL, "domain": "node9.example.com"})
    assert changed_between(full, renamed) == sorted([n.DNS + "-a", n.HTTP_SITE, n.CERTIFICATE, n.TLS_SITE])
    replaced = [
        c.name
        for c in renamed.of_type(COMMAND)
        if c.inputs.get("triggers") != full.named(c.name).inputs.get("triggers")
    ]
    assert sorted(replaced) == sorted([n.HTTP_SITE, n.TLS_SITE])
    assert renamed.named(n.TLS_SITE).inputs["triggers"] == [HostLayout("node9.example.com").tls_site]


def test_the_ssh_key_reaches_the_connection_as_a_secret(full):
    hits = secret_occurrences(full.named(n.PACKAGES).wire_inputs, SSH_KEY)
    assert hits and all(hits)


def test_bad_config_fails_before_any_resource_is_registered():
    with pytest.raises(pulumi.RunError) as caught:
        deploy({**MINIMAL, "domain": "*.example.com", "grpc": {"listen": "0.0.0.0:50051"}}, ssh_key=None)
    message = str(caught.value)
    for key in ("pactus-secure:domain", "pactus-secure:grpc.listen", "pactus-secure:sshPrivateKey"):
        assert key in message
    assert "3 problem(s)" in message


def test_a_bad_config_error_never_shows_a_secret():
    with pytest.raises(pulumi.RunError) as caught:
        deploy({**MINIMAL, "host": "nope"})
    assert SSH_KEY not in str(caught.value) and CLOUDFLARE_TOKEN not in str(caught.value)


def test_the_host_key_reaches_the_connection_and_its_absence_is_warned_about(monkeypatch):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    key = HOST_KEY
    pinned = deploy({**MINIMAL, "sshHostKey": key})
    assert {unsecret(c.inputs["connection"])["hostKey"] for c in pinned.of_type(COMMAND)} == {key} and warnings == []
    unpinned = deploy(MINIMAL)
    assert all("hostKey" not in unsecret(c.inputs["connection"]) for c in unpinned.of_type(COMMAND))
    assert len(warnings) == 1 and "sshHostKey is not set" in warnings[0] and "ssh-keyscan" in warnings[0]


@pytest.mark.parametrize(
    "distro, warned",
    [("debian", None), ("redhat", "on this host"), ("arch", "on this host"), ("auto", "redhat or arch family")],
)
def test_preview_says_where_json_rpc_cannot_refuse_the_key_signing_method(monkeypatch, distro, warned):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    jsonrpc = {"jsonrpc": {"enable": True}, "distro": distro}
    deploy({**MINIMAL, "sshHostKey": HOST_KEY, **jsonrpc})
    said = [w for w in warnings if "pactus.utils.sign_message_with_private_key" in w]
    assert [warned in w for w in said] == ([] if warned is None else [True]), said
    deploy({**MINIMAL, "sshHostKey": HOST_KEY, **jsonrpc, "exposeSignMessageWithPrivateKey": True})
    assert len([w for w in warnings if "sign_message_with_private_key" in w]) == len(said)  # nothing to refuse


@pytest.mark.parametrize(
    "network, noted",
    [(None, True), ({"enable_metrics": False}, True), ({"enable_metrics": True}, False)],
)
def test_preview_says_when_the_metrics_lack_the_network_counters(monkeypatch, network, noted):
    infos = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, *args, **kwargs: infos.append(message))
    metrics = {"metrics": {"enable": True, "scrapers": ["198.51.100.0/24"]}}
    deploy({**MINIMAL, "sshHostKey": HOST_KEY, **metrics, "pactusConfig": {"network": network} if network else {}})
    said = [line for line in infos if "network.enable_metrics" in line]
    assert len(said) == noted, infos
    deploy({**MINIMAL, "sshHostKey": HOST_KEY})  # no metrics, nothing to say
    assert len([line for line in infos if "network.enable_metrics" in line]) == noted


def test_a_cloudflare_token_set_in_plain_text_is_refused_without_being_shown():
    with pytest.raises(pulumi.RunError) as caught:
        deploy(FULL, cloudflare_token_secret=False)
    message = str(caught.value)
    assert "cloudflare:apiToken = (secret): set in plain text" in message and "--secret cloudflare:apiToken" in message
    assert CLOUDFLARE_TOKEN not in message


def test_a_bad_value_set_as_a_secret_is_named_but_not_shown():
    with pytest.raises(pulumi.RunError) as caught:
        deploy(
            {**MINIMAL, "acmeEmail": "s3cret-not-an-email", "basicAuth": "admin:hunter2"},
            secret_keys=("acmeEmail", "basicAuth"),
        )
    message = str(caught.value)
    assert "pactus-secure:acmeEmail = (secret)" in message and "pactus-secure:basicAuth = (secret)" in message
    assert "s3cret" not in message and "hunter2" not in message


def test_an_unreachable_host_is_given_up_on_after_the_configured_tries():
    deployment = deploy({**MINIMAL, "sshDialErrorLimit": "2", "sshPerDialTimeout": "3"})
    for command in deployment.of_type(COMMAND):
        connection = connection_of(deployment, command.name)
        assert (connection["dialErrorLimit"], connection["perDialTimeout"]) == (2, 3)


def test_a_locked_down_config_adds_firewall_and_basic_auth_steps_in_order(locked_down):
    steps = {r.name for r in locked_down.of_type(COMMAND)}
    assert steps == set(n.STEPS)  # every step the program has
    host, http_site, certificate, tls_site, _ = (locked_down.named(step) for step in n.REQUIRED_STEPS)
    firewall, htpasswd = locked_down.named(n.FIREWALL), locked_down.named(n.CREDENTIAL)
    assert locked_down.depends_on(firewall, host) and locked_down.depends_on(http_site, firewall)
    assert locked_down.depends_on(htpasswd, host) and locked_down.depends_on(tls_site, htpasswd)
    assert locked_down.by_urn(firewall.parent).type == "pactus-secure:index:HostBase"
    assert locked_down.by_urn(htpasswd.parent).type == "pactus-secure:index:Proxy"
    assert f"auth_basic_user_file {LAYOUT.htpasswd};" in tls_site.inputs["stdin"]
    assert (
        "ufw allow" in firewall.inputs["stdin"]
        and "PORTS=(80/tcp 443/tcp 2222/tcp 21888/tcp)" in firewall.inputs["stdin"]
    )
    assert f"rm -f {LAYOUT.htpasswd}" in htpasswd.inputs["delete"]


def test_basic_auth_reaches_nginx_and_pactus_only_as_secrets(locked_down):
    htpasswd = locked_down.named(n.CREDENTIAL)
    assert is_secret(htpasswd.wire_inputs["stdin"]) and BASIC_AUTH in unsecret(htpasswd.inputs["stdin"])
    config = locked_down.named(n.CONFIG_TOML)
    assert is_secret(config.wire_inputs["stdin"])
    assert f'basic_auth = "{BASIC_AUTH}"' in unsecret(config.inputs["stdin"])


@pytest.mark.parametrize(
    "secret", [SSH_KEY, SSH_KEY.splitlines()[1], CLOUDFLARE_TOKEN, BASIC_AUTH, BASIC_AUTH.split(":", 1)[1]]
)
def test_no_secret_appears_outside_a_secret_input(locked_down, secret):
    """Every input of every registered resource, command strings and undo scripts included."""
    for resource in locked_down.resources:
        hits = secret_occurrences(resource.wire_inputs, secret)
        assert all(hits), f"{resource.name} carries the secret in plain inputs"
    assert secret not in json.dumps(locked_down.outputs)
    for command in locked_down.of_type(COMMAND):
        assert secret not in command.inputs["create"] and secret not in (command.inputs.get("delete") or "")


def test_steps_that_carry_a_secret_log_nothing_and_keep_their_output_secret(locked_down, full):
    carrying = {r.name for r in locked_down.of_type(COMMAND) if is_secret(r.wire_inputs["stdin"])}
    assert carrying == {n.CREDENTIAL, n.CONFIG_TOML}
    for command in locked_down.of_type(COMMAND):
        if command.name in carrying:
            assert command.inputs["logging"] == "none" and {"stdout", "stderr"} <= set(command.secret_outputs)
        else:
            assert "logging" not in command.inputs and not {"stdout", "stderr"} & set(command.secret_outputs)
    assert not [r for r in full.of_type(COMMAND) if is_secret(r.wire_inputs["stdin"])]


def test_unsetting_basic_auth_drops_its_step_and_the_nginx_challenge(locked_down):
    plain = deploy(FULL)
    assert not [r for r in plain.resources if r.name.endswith(n.CREDENTIAL)]
    assert "auth_basic" not in plain.named(n.TLS_SITE).inputs["stdin"]
    assert 'basic_auth = ""' in plain.named(n.CONFIG_TOML).inputs["stdin"]  # Pactus checks nothing


def test_nginx_basic_auth_alone_leaves_pactus_config_plain():
    deployment = deploy(FULL, basic_auth=BASIC_AUTH)
    assert "auth_basic" in deployment.named(n.TLS_SITE).inputs["stdin"]
    assert 'basic_auth = ""' in deployment.named(n.CONFIG_TOML).inputs["stdin"]
    assert not is_secret(deployment.named(n.CONFIG_TOML).wire_inputs["stdin"])


@pytest.mark.parametrize(
    "config, kwargs, named",
    [
        ({**MINIMAL, "basicAuth": BASIC_AUTH}, {}, "pactus-secure:basicAuth = (secret): holds a secret"),
        (
            MINIMAL,
            {"ssh_key": "ssh-ed25519 AAAAC3Nza ops@laptop"},
            "pactus-secure:sshPrivateKey = (secret): is a public key",
        ),
        (
            MINIMAL,
            {"ssh_key": openssh_key(b"aes256-ctr")},
            "pactus-secure:sshPrivateKey = (secret): is protected by a passphrase",
        ),
        (
            MINIMAL,
            {"basic_auth": "operator:plain-password"},
            "pactus-secure:basicAuth = (secret): must be one htpasswd line",
        ),
    ],
)
def test_a_bad_secret_fails_before_any_resource_and_is_never_shown(config, kwargs, named):
    with pytest.raises(pulumi.RunError) as caught:
        deploy(config, **kwargs)
    message = str(caught.value)
    assert named in message
    value = config.get("basicAuth") or next(iter(kwargs.values()))
    assert value not in message and value.split()[-1].split(":")[-1] not in message


@pytest.mark.parametrize("stack", FLEET)
def test_each_example_node_previews_with_dummy_secrets(stack):
    deployment = deploy(fleet_stack(stack), stack=stack, basic_auth=BASIC_AUTH if stack == "mainnet-node2" else None)
    assert len(deployment.of_type(COMMAND)) >= 5 and deployment.outputs["grpcTarget"].endswith(".example.com:443")


def test_a_misspelt_key_is_reported():
    with pytest.raises(pulumi.RunError, match="acmeEmial"):
        deploy({**MINIMAL, "acmeEmial": "x@example.com"})
