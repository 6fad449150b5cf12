from collections import Counter

import pytest

from study.counterbalance import check_participant, participant_number, plan_order
from study.errors import StudyError
from study.manifest import read_manifest

from tests.study.study_fixtures import PAPER_ARTWORKS, write_manifest


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory):
    return read_manifest(write_manifest(tmp_path_factory.mktemp("s"), PAPER_ARTWORKS, size=(8, 6)))


def test_fifty_participants_balanced_and_never_consecutive(stimuli):
    first_ours = Counter()
    orders = set()
    for p in range(1, 51):
        order, _ = plan_order(stimuli, f"sub-{p:02d}", 20250925)
        ids = [t.stimulus_id for t in order]
        assert len(ids) == 18 and set(ids) == {s.stimulus_id for s in stimuli}   # all 18, once each
        arts = [t.artwork for t in order]
        assert all(a != b for a, b in zip(arts, arts[1:]))                      # versions never consecutive
        seen = set()
        for t in order:
            if t.artwork not in seen:
                seen.add(t.artwork)
                first_ours[t.artwork] += t.method == "ours"
        orders.add(tuple(ids))
    assert len(first_ours) == 9
    assert all(n == 25 for n in first_ours.values()), first_ours                # 25/25 per artwork
    assert len(orders) == 50                                                     # randomised per participant


def test_order_is_reproducible_from_participant_number(stimuli):
    a, seed_a = plan_order(stimuli, "sub-07", 1)
    b, seed_b = plan_order(stimuli, "sub-07", 1)
    c, _ = plan_order(stimuli, "sub-07", 2)
    assert a == b and seed_a == seed_b
    assert a != c
    assert [t.trial for t in a] == list(range(1, 19))


def test_each_participant_sees_ours_first_for_about_half(stimuli):
    order, _ = plan_order(stimuli, "sub-03", 5)
    firsts = {}
    for t in order:
        firsts.setdefault(t.artwork, t.method)
    assert sorted(Counter(firsts.values()).values()) == [4, 5]


@pytest.mark.parametrize("bad", ["Anna", "sub-", "sub-07 ", "sub_07", "sub-Jo Do", "../sub-1"])
def test_pseudonym_pattern(bad):
    with pytest.raises(StudyError):
        check_participant(bad)


def test_participant_number():
    assert participant_number("sub-07") == 7
    assert participant_number("sub-P12") == 12
    assert participant_number("sub-abc") == participant_number("sub-abc")
