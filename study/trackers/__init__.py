"""Eye trackers: the common interface (base), Tobii via TittaPy, simulated, mouse."""
