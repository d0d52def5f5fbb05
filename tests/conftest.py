pytest_plugins = [
    "tests.support.mongo",
    "tests.support.emulator",
    "tests.support.temporal",
]
