import pytest

pytest_plugins = [
    "tests.support.mongo",
    "tests.support.emulator",
    "tests.support.temporal",
]

# A test that takes one of these talks to a real component (the Temporal dev server,
# MongoDB, an emulator over HTTP): it is an integration test wherever its folder is.
REAL_COMPONENT_FIXTURES = frozenset(
    {
        "temporal_env",
        "mongo_uri",
        "mongo_client",
        "mongo_db",
        "restartable_mongo",
        "emulator",
        "hetzner_emulator",
        "one_key_emulator",
        "do_emulator",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_COMPONENT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
