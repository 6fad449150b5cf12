import pytest

from study.config import StudyConfig, load_config
from study.errors import StudyError


def test_defaults_are_the_documented_paper_values():
    cfg = StudyConfig()
    assert cfg.timing.viewing_s == 30.0          # > 18.83 s (Table 4 max) + saccade time
    assert cfg.timing.viewing_s > 18.83 / 0.9
    assert cfg.timing.fixation_s == 1.0
    assert cfg.tracker.sampling_rate_hz == 60.0  # Tobii T60
    assert cfg.tracker.accuracy_threshold_deg == 1.0
    assert cfg.screen.resolution_px == (1280, 1024)
    assert cfg.recorder.flush_interval_s <= 0.25


def test_shipped_configs_load():
    quick = load_config("quick")
    assert quick.study.n_trials == 2 and quick.timing.viewing_s == 1.0
    assert quick.tracker.kind == "simulated" and quick.run.presenter == "headless"
    default = load_config("default")
    assert default == StudyConfig(source=default.source)


def test_unknown_key_names_file_and_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[timing]\nviewing_sec = 3\n")
    with pytest.raises(StudyError) as e:
        load_config(p)
    assert str(p) in str(e.value) and "timing.viewing_sec" in str(e.value)


@pytest.mark.parametrize("body, key", [
    ("[tracker]\ncalibration_points = 7\n", "tracker.calibration_points"),
    ("[tracker]\nvalidation_points = 3\n", "tracker.validation_points"),
    ("[recorder]\nflush_interval_s = 1.0\n", "recorder.flush_interval_s"),
    ("[timing]\nviewing_s = \"long\"\n", "timing.viewing_s"),
    ('[[participant.fields]]\nname = "first_name"\n', "participant.fields"),
])
def test_bad_values_refused(tmp_path, body, key):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(StudyError) as e:
        load_config(p)
    assert e.value.column == key


def test_participant_fields_parse_and_validate(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('[[participant.fields]]\nname = "age"\ntype = "int"\nmin = 18\nmax = 40\n'
                 '[[participant.fields]]\nname = "hand"\ntype = "choice"\nchoices = ["left", "right"]\n')
    cfg = load_config(p)
    age, hand = cfg.participant.fields
    assert age.parse("21") == 21 and age.parse("") == "n/a"
    with pytest.raises(StudyError):
        age.parse("99")
    with pytest.raises(StudyError):
        hand.parse("both")
