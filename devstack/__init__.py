"""The embedded local stack: its processes, ports and logs (tests, benchmarks, the demo)."""
