"""Where scanners run: a local executable, a report file, or the Dagger engine."""
