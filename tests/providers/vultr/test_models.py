"""The typed models: what they accept from the API and what they send to it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from providers.vultr import (
    MAX_LABEL_LENGTH,
    MAX_USER_DATA_BYTES,
    Account,
    CreateInstanceRequest,
    Instance,
    OperatingSystem,
    PendingCharge,
    Plan,
    Region,
)

# The `GET /instances/{instance-id}` example of the official spec.
SPEC_INSTANCE = {
    "id": "cb676a46-66fd-4dfb-b839-443f2e6c0b60",
    "os": "Ubuntu 20.04 x64",
    "ram": 16384,
    "disk": 384,
    "main_ip": "192.0.2.123",
    "vcpu_count": 4,
    "region": "ewr",
    "plan": "vc2-6c-16gb",
    "date_created": "2020-10-10T01:56:20+00:00",
    "status": "active",
    "allowed_bandwidth": 5000,
    "netmask_v4": "255.255.254.0",
    "gateway_v4": "192.0.2.1",
    "power_status": "running",
    "server_status": "ok",
    "v6_network": "",
    "v6_main_ip": "",
    "v6_network_size": 0,
    "label": "Example Instance",
    "internal_ip": "",
    "kvm": "https://my.vultr.com/subs/vps/novnc/api.php?data=00example11223344",
    "hostname": "my_hostname",
    "os_id": 215,
    "app_id": 0,
    "image_id": "",
    "firewall_group_id": "",
    "features": ["ddos_protection", "ipv6", "auto_backups"],
    "tags": ["a tag", "another"],
    "user_scheme": "root",
}


def minimal_request(**overrides: object) -> CreateInstanceRequest:
    fields: dict[str, object] = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284}
    fields.update(overrides)
    return CreateInstanceRequest(**fields)  # type: ignore[arg-type]


# ---- Instance --------------------------------------------------------------------------


def test_instance_reads_every_field_of_the_spec_example() -> None:
    instance = Instance.model_validate(SPEC_INSTANCE)
    assert instance.id == SPEC_INSTANCE["id"]
    assert (instance.ram, instance.disk, instance.vcpu_count) == (16384, 384, 4)
    assert (instance.status, instance.power_status, instance.server_status) == (
        "active",
        "running",
        "ok",
    )
    assert instance.tags == ["a tag", "another"]
    assert instance.features == ["ddos_protection", "ipv6", "auto_backups"]
    assert instance.os_id == 215
    assert instance.kvm.startswith("https://my.vultr.com/")


def test_instance_date_created_is_timezone_aware() -> None:
    instance = Instance.model_validate(SPEC_INSTANCE)
    assert instance.date_created == datetime(2020, 10, 10, 1, 56, 20, tzinfo=UTC)
    assert instance.date_created.utcoffset() is not None


def test_instance_date_without_offset_is_taken_as_utc() -> None:
    instance = Instance.model_validate({"id": "x", "date_created": "2024-03-01 12:00:00"})
    assert instance.date_created == datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_instance_empty_date_created_means_unknown() -> None:
    assert Instance.model_validate({"id": "x", "date_created": ""}).date_created is None


def test_instance_ignores_fields_it_does_not_know() -> None:
    data = {**SPEC_INSTANCE, "vpc_only": True, "snapshot_id": "snap-1", "future_field": {"a": 1}}
    instance = Instance.model_validate(data)
    assert instance.vpc_only is True
    assert instance.snapshot_id == "snap-1"
    assert "future_field" not in instance.model_dump()


def test_instance_null_values_become_defaults() -> None:
    instance = Instance.model_validate({"id": "x", "tags": None, "label": None, "ram": None})
    assert (instance.tags, instance.label, instance.ram) == ([], "", 0)


def test_instance_flat_v6_fields_fill_the_v6_networks_list() -> None:
    instance = Instance.model_validate(
        {
            "id": "x",
            "v6_network": "2001:db8:1112:18fb::",
            "v6_main_ip": "2001:db8:1112:18fb:200:ff:fe00:0",
            "v6_network_size": 64,
        }
    )
    assert len(instance.v6_networks) == 1
    assert instance.v6_networks[0].network == "2001:db8:1112:18fb::"
    assert instance.v6_networks[0].network_size == 64


def test_instance_v6_networks_list_fills_the_flat_fields() -> None:
    instance = Instance.model_validate(
        {"id": "x", "v6_networks": [{"network": "2001:db8::", "main_ip": "2001:db8::1"}]}
    )
    assert (instance.v6_network, instance.v6_main_ip) == ("2001:db8::", "2001:db8::1")


def test_instance_default_password_never_leaves_the_model() -> None:
    instance = Instance.model_validate({"id": "x", "default_password": "v5{Fkvb#2ycPGwHs"})
    assert instance.default_password is not None
    assert instance.default_password.get_secret_value() == "v5{Fkvb#2ycPGwHs"
    assert "default_password" not in instance.model_dump()
    assert "v5{Fkvb" not in instance.model_dump_json()
    assert "v5{Fkvb" not in repr(instance)


def test_instance_without_id_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Instance.model_validate({"label": "no id"})


@pytest.mark.parametrize(
    ("status", "power", "server", "ready"),
    [
        ("active", "running", "ok", True),
        ("pending", "running", "none", False),
        ("active", "stopped", "locked", False),
        ("active", "running", "installingbooting", False),
    ],
)
def test_instance_is_ready_only_when_active_running_and_ok(
    status: str, power: str, server: str, ready: bool
) -> None:
    instance = Instance.model_validate(
        {"id": "x", "status": status, "power_status": power, "server_status": server}
    )
    assert instance.is_ready is ready


# ---- catalog and billing objects ---------------------------------------------------------


def test_plan_reads_the_spec_example_without_hourly_cost() -> None:
    plan = Plan.model_validate(
        {
            "id": "vhf-8c-32gb",
            "vcpu_count": 8,
            "ram": 32768,
            "disk": 512,
            "disk_count": 1,
            "bandwidth": 6144,
            "monthly_cost": 192,
            "type": "vhf",
            "locations": ["sea"],
        }
    )
    assert (plan.monthly_cost, plan.hourly_cost, plan.locations) == (192.0, None, ["sea"])
    assert plan.type == "vhf"


def test_plan_keeps_fractional_costs_and_hourly_cost() -> None:
    plan = Plan.model_validate(
        {"id": "vc2-1c-0.5gb", "monthly_cost": 2.5, "hourly_cost": 0.004, "invoice_type": "hourly"}
    )
    assert (plan.monthly_cost, plan.hourly_cost, plan.invoice_type) == (2.5, 0.004, "hourly")


def test_region_and_os_read_the_spec_examples() -> None:
    region = Region.model_validate(
        {"id": "ams", "city": "Amsterdam", "country": "NL", "continent": "Europe", "options": []}
    )
    os = OperatingSystem.model_validate(
        {"id": 127, "name": "CentOS 6 x64", "arch": "x64", "family": "centos"}
    )
    assert (region.id, region.city) == ("ams", "Amsterdam")
    assert (os.id, os.family) == (127, "centos")


def test_account_reads_the_spec_example() -> None:
    account = Account.model_validate(
        {
            "name": "Example Account",
            "email": "admin@example.com",
            "acls": ["manage_users", "billing"],
            "balance": -100.55,
            "pending_charges": 60.25,
            "last_payment_date": "2020-10-10T01:56:20+00:00",
            "last_payment_amount": -1.25,
        }
    )
    assert account.pending_charges == 60.25
    assert account.last_payment_date == datetime(2020, 10, 10, 1, 56, 20, tzinfo=UTC)


def test_pending_charge_reads_an_invoice_item_with_naive_dates_as_utc() -> None:
    charge = PendingCharge.model_validate(
        {
            "description": "1.1.1.1 (8192 MB) [my-instance]",
            "product": "Vultr Cloud Compute",
            "start_date": "2021-09-15 09:13:15",
            "end_date": "2021-09-30 20:00:00",
            "units": 371,
            "unit_type": "hours",
            "unit_price": 0.0595,
            "total": 22.09,
        }
    )
    assert charge.start_date == datetime(2021, 9, 15, 9, 13, 15, tzinfo=UTC)
    assert (charge.units, charge.unit_price, charge.total) == (371.0, 0.0595, 22.09)


# ---- CreateInstanceRequest ---------------------------------------------------------------


def test_create_body_has_the_shape_the_spec_asks_for() -> None:
    request = minimal_request(
        label="server-web-1",
        hostname="web-1",
        tags=["lifecycle", "server-web-1"],
        sshkey_id=["key-a", "key-b"],
        user_data="#cloud-config\npackages: [htop]\n",
        enable_ipv6=True,
        backups=False,
    )
    assert request.api_body() == {
        "region": "ewr",
        "plan": "vc2-1c-1gb",
        "os_id": 2284,
        "label": "server-web-1",
        "hostname": "web-1",
        "tags": ["lifecycle", "server-web-1"],
        "sshkey_id": ["key-a", "key-b"],
        "user_data": base64.b64encode(b"#cloud-config\npackages: [htop]\n").decode(),
        "enable_ipv6": True,
        "backups": "disabled",
    }


def test_create_body_omits_everything_not_set() -> None:
    assert minimal_request().api_body() == {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284}


def test_create_body_base64_encodes_unicode_user_data_as_utf8() -> None:
    body = minimal_request(user_data="echo héllo").api_body()
    assert base64.b64decode(body["user_data"]).decode("utf-8") == "echo héllo"


def test_create_request_accepts_null_tags() -> None:
    assert minimal_request(tags=None).tags == []


def test_create_request_needs_something_to_install() -> None:
    with pytest.raises(ValidationError, match="os_id, iso_id, snapshot_id, app_id or image_id"):
        CreateInstanceRequest(region="ewr", plan="vc2-1c-1gb")


def test_create_request_accepts_user_data_of_exactly_64_kib() -> None:
    assert minimal_request(user_data="x" * MAX_USER_DATA_BYTES).user_data is not None


def test_create_request_rejects_user_data_over_64_kib() -> None:
    with pytest.raises(ValidationError, match="65537 bytes"):
        minimal_request(user_data="x" * (MAX_USER_DATA_BYTES + 1))


def test_create_request_counts_user_data_in_utf8_bytes() -> None:
    with pytest.raises(ValidationError, match="user_data"):
        minimal_request(user_data="é" * (MAX_USER_DATA_BYTES // 2 + 1))


def test_create_request_rejects_an_overlong_label() -> None:
    with pytest.raises(ValidationError, match="label"):
        minimal_request(label="x" * (MAX_LABEL_LENGTH + 1))


@pytest.mark.parametrize("tags", [[5], ["ok", None], "single-string", [""]])
def test_create_request_rejects_tags_that_are_not_a_list_of_strings(tags: object) -> None:
    with pytest.raises(ValidationError, match="tags"):
        minimal_request(tags=tags)


def test_create_request_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="sshkey_ids"):
        minimal_request(sshkey_ids=["typo"])
