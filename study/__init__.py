"""study: the lab session (PsychoPy + Tobii via TittaPy, simulated or mouse tracker) with crash-safe BIDS recording. Reads only the stimulus manifest; never imports analysis."""
