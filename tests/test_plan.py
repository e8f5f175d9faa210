"""The administration plan: participants are the full factor product with stable ids and seeds."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import pytest
import yaml

from bench.administration import PlanError, build_plan, select_templates
from bench.instruments import load_inventory
from bench.personas import PersonaError, expand_personas
from bench.resources import CONF_DIR

CONF = CONF_DIR
TEMPS = [0.0, 0.7, 1.0]
REPS = 2
ORDERS = ["original", "reversed", "shuffled"]


def conf(rel: str) -> dict:
    return yaml.safe_load((CONF / rel).read_text())


@pytest.fixture(scope="module")
def bfi():
    return load_inventory("bfi")


@pytest.fixture(scope="module")
def personas():
    return expand_personas(conf("persona/traits.yaml"))


@pytest.fixture(scope="module")
def templates():
    return select_templates(conf("prompt/default.yaml"), "likert", None)


def make(bfi, personas, templates, seed=1234, **kw):
    args = dict(option_orders=ORDERS, temperatures=TEMPS, repetitions=REPS, seed=seed)
    args.update(kw)
    return build_plan(bfi, personas, templates, **args)


@pytest.fixture(scope="module")
def plan(bfi, personas, templates):
    return make(bfi, personas, templates)


def test_inputs_are_the_real_config(personas, templates):
    assert len(personas) == 10
    assert [p.id for p in personas][:2] == ["E_high", "E_low"]
    assert personas[0].target == "E+" and personas[0].text.startswith("You are talkative")
    assert [t.id for t in templates] == ["describe", "rate", "self_report"]
    assert "{item}" in templates[0].text and "{options}" in templates[0].text


def test_participant_count_is_the_cartesian_product(plan, personas, templates):
    assert len(plan.participants) == len(personas) * len(templates) * len(ORDERS) * len(TEMPS) * REPS == 540
    combos = {(p.persona.id, p.template.id, p.option_order, p.temperature, p.repetition) for p in plan.participants}
    expected = set(itertools.product([p.id for p in personas], [t.id for t in templates], ORDERS,
                                     TEMPS, range(REPS)))
    assert combos == expected


def test_items_and_metadata(plan, bfi):
    assert plan.items == bfi.items and len(plan.items) == 44
    assert plan.administration == "single"
    assert plan.seed == 1234


def test_max_items_truncates_in_inventory_order(bfi, personas, templates):
    p = make(bfi, personas[:1], templates[:1], max_items=7)
    assert [it.id for it in p.items] == [f"bfi_{i:02d}" for i in range(1, 8)]


def test_ids_unique_and_stable(plan, bfi, personas, templates):
    ids = [p.id for p in plan.participants]
    assert len(set(ids)) == len(ids)
    again = make(bfi, personas, templates)
    assert [p.id for p in again.participants] == ids
    # The id names every factor level, so a result row can be traced back to its conditions.
    first = plan.participants[0]
    for part in (first.persona.id, first.template.id, first.option_order, f"r{first.repetition}"):
        assert part in first.id
    # Ids do not depend on the seed (the seed only changes randomness, not identity).
    assert [p.id for p in make(bfi, personas, templates, seed=99).participants] == ids


def test_seeds_distinct_and_reproducible(plan, bfi, personas, templates):
    seeds = [p.seed for p in plan.participants]
    assert len(set(seeds)) == len(seeds)
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in seeds)
    assert [p.seed for p in make(bfi, personas, templates).participants] == seeds
    other = [p.seed for p in make(bfi, personas, templates, seed=1235).participants]
    assert not set(other) & set(seeds)


def test_seed_depends_on_participant_not_on_position(bfi, personas, templates):
    full = {p.id: p.seed for p in make(bfi, personas, templates).participants}
    sub = make(bfi, personas[3:5], templates[1:], option_orders=["shuffled"], temperatures=[1.0])
    assert sub.participants and all(full[p.id] == p.seed for p in sub.participants)


def test_condition_groups_temperatures_and_repetitions(plan, personas, templates):
    groups = defaultdict(list)
    for p in plan.participants:
        groups[p.condition].append(p)
    assert len(groups) == len(personas) * len(templates) * len(ORDERS)
    for cond, members in groups.items():
        assert cond == (members[0].persona.id, members[0].template.id, members[0].option_order)
        assert sorted((m.temperature, m.repetition) for m in members) == sorted(itertools.product(TEMPS, range(REPS)))
        assert len({m.seed for m in members}) == len(members)


def test_temperatures_are_floats(bfi, personas, templates):
    p = make(bfi, personas[:1], templates[:1], temperatures=[0, 1], repetitions=1, option_orders=["original"])
    assert [x.temperature for x in p.participants] == [0.0, 1.0]
    assert all(type(x.temperature) is float for x in p.participants)


def by_order(plan, order):
    return [p for p in plan.participants if p.option_order == order]


def test_original_and_reversed_permutations(plan):
    item = plan.items[0]
    assert all(plan.option_permutation(p, item) == (0, 1, 2, 3, 4) for p in by_order(plan, "original"))
    assert all(plan.option_permutation(p, item) == (4, 3, 2, 1, 0) for p in by_order(plan, "reversed"))


def test_shuffled_is_deterministic_permutation(plan, bfi, personas, templates):
    again = make(bfi, personas, templates)
    shuffled = by_order(plan, "shuffled")
    assert len(shuffled) == 180
    for p, q in zip(shuffled, by_order(again, "shuffled")):
        for item in plan.items:
            perm = plan.option_permutation(p, item)
            assert sorted(perm) == [0, 1, 2, 3, 4]
            assert all(type(i) is int for i in perm)
            assert again.option_permutation(q, item) == perm


def test_shuffled_same_across_temperatures_and_repetitions(plan):
    groups = defaultdict(list)
    for p in by_order(plan, "shuffled"):
        groups[p.condition].append(p)
    for members in groups.values():
        assert len(members) == len(TEMPS) * REPS
        for item in plan.items:
            assert len({plan.option_permutation(m, item) for m in members}) == 1


def test_shuffled_varies_across_items_and_conditions(plan, bfi, personas, templates):
    p = by_order(plan, "shuffled")[0]
    perms = [plan.option_permutation(p, item) for item in plan.items]
    assert len(set(perms)) >= 10  # 44 draws from 120 permutations: identical by chance is ~impossible
    assert any(perm not in ((0, 1, 2, 3, 4), (4, 3, 2, 1, 0)) for perm in perms)
    # A different condition (other persona) shuffles differently for at least some items.
    other = next(x for x in by_order(plan, "shuffled") if x.persona.id != p.persona.id)
    assert any(plan.option_permutation(other, it) != plan.option_permutation(p, it) for it in plan.items)
    # A different plan seed shuffles differently.
    reseeded = make(bfi, personas, templates, seed=7)
    q = next(x for x in reseeded.participants if x.id == p.id)
    assert any(reseeded.option_permutation(q, it) != plan.option_permutation(p, it) for it in plan.items)


def test_shuffled_positions_are_roughly_uniform(plan):
    # Across all shuffled conditions and items, each canonical option lands in position 0 about 1/5 of the time.
    firsts = Counter()
    seen = set()
    for p in by_order(plan, "shuffled"):
        if p.condition in seen:
            continue
        seen.add(p.condition)
        for item in plan.items:
            firsts[plan.option_permutation(p, item)[0]] += 1
    total = sum(firsts.values())
    assert total == 30 * 44
    assert set(firsts) == {0, 1, 2, 3, 4}
    assert all(abs(c / total - 0.2) < 0.05 for c in firsts.values())


def test_role_trait_expands_to_sixty(bfi, templates):
    cfg = conf("persona/role_trait.yaml")
    ps = expand_personas(cfg)
    assert len(ps) == 6 * 10 == 60
    assert len({p.id for p in ps}) == 60
    traits = {t["id"]: t for t in cfg["traits"]}
    roles = {r["id"]: r for r in cfg["roles"]}
    for p in ps:
        role, trait = p.id.split("/")
        assert p.target == traits[trait]["target"]
        assert p.text.startswith(roles[role]["text"]) and p.text.endswith(traits[trait]["text"])
    nurse_n = next(p for p in ps if p.id == "nurse/N_high")
    assert nurse_n.target == "N+"
    assert Counter(p.target for p in ps)["O-"] == 6
    plan = build_plan(bfi, ps, templates[:1], ["original"], [0.0], 1, seed=0)
    assert len(plan.participants) == 60


def test_none_persona_has_no_text():
    (p,) = expand_personas(conf("persona/none.yaml"))
    assert (p.id, p.target, p.text) == ("none", "", "")


def test_persona_set_without_personas_or_roles_is_an_error():
    with pytest.raises(PersonaError, match="broken"):
        expand_personas({"set": "broken", "roles": [{"id": "a", "text": "x"}]})


def test_select_templates_subset_in_requested_order():
    got = select_templates(conf("prompt/default.yaml"), "likert", ["self_report", "describe"])
    assert [t.id for t in got] == ["self_report", "describe"]
    bip = select_templates(conf("prompt/default.yaml"), "bipolar", ["rate"])
    assert "{left}" in bip[0].text


def test_unknown_template_id():
    with pytest.raises(PlanError, match="no_such_template"):
        select_templates(conf("prompt/default.yaml"), "likert", ["describe", "no_such_template"])


@pytest.mark.parametrize("kw,needle", [
    (dict(option_orders=["original", "sideways"]), "sideways"),
    (dict(repetitions=0), "repetitions: 0"),
    (dict(temperatures=[0.7, -0.5]), "-0.5"),
    (dict(administration="batch"), "batch"),
])
def test_bad_arguments_raise_plan_error(bfi, personas, templates, kw, needle):
    with pytest.raises(PlanError) as exc:
        make(bfi, personas, templates, **kw)
    assert needle in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_conversation_mode_accepted(bfi, personas, templates):
    assert make(bfi, personas[:1], templates[:1], administration="conversation").administration == "conversation"
