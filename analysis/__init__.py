"""analysis: raw gaze recordings -> Tobii I-VT fixations -> trial metrics -> Table 4, statistics, report.

Data flows one way (stimuli_gen -> study -> analysis); this package never imports
``study`` or ``stimuli_gen``. The file formats in ``docs/formats.md`` are the contract.
"""

__version__ = "0.1.0"
