"""The affinity marts (models/gold/affinity/): docs/affinity.md as GX rules.

Columns, types, grain, not-null constraints and the ledger's accepted outcomes come from the
dbt contract (see `base.py`); here are the rules beyond it. The values of the `reference`
seeds (max_affinity, levels, rules and their caps, level rewards, timezone) are embedded in
the rules, read when the suite is built (`catalog.Reference`). Decisions where the docs leave
room are stated in each builder's docstring.
"""

from __future__ import annotations

from expectations.catalog import Reference
from expectations.checks import BATCH, Rule, at_least, between, flagged_rows, holds, lit
from expectations.suites.base import Builder, equals


def _level_of(value: str, ref: Reference) -> str:
    """SQL: the level of a favorability value under the levels seed."""
    cases = " ".join(
        f"when {value} >= {minimum} then {level}"
        for level, minimum in sorted(ref.levels, key=lambda lm: -lm[1])
    )
    return f"(case {cases} end)"


def _levels_text(ref: Reference) -> str:
    return ", ".join(f"{level} from {minimum}" for level, minimum in ref.levels)


def fct_affinity_ledger(b: Builder) -> None:
    """The affinity ledger: one row per affinity event.

    Decisions: the device is (brand_id, device_id); the replay order is (occurred_at,
    event_id); a device starts at 0, level 0, so its first row has before_value = 0 and
    old_level = 0. Clamping never reverses nor enlarges a change, so applied_change has the
    sign of requested_change (or is 0) and no larger magnitude. An applied outcome changes the
    value (step 7); an admin adjustment is applied or noop_value_boundary. With the seeds of
    the `reference` schema: levels follow the level thresholds, a rule's applied change is
    within its single_cap, noop_no_rule is exactly the rule-driven rows whose rule is missing
    or disabled, and the daily caps hold per device, rule and local day (rule daily_cap) and
    per device and local day (global_daily_cap on positive rule changes), the local day in the
    configured timezone."""
    ref = b.table.reference
    top = ref.max_affinity
    b.add(
        between("before_value", 0, top),
        between("after_value", 0, top),
        equals("applied_is_after_minus_before", "applied_change", "after_value - before_value"),
        holds(
            "noop_applies_nothing",
            "applied_change = 0 for every non-applied outcome",
            "outcome = 'applied' or applied_change = 0",
        ),
        holds(
            "applied_changes_value",
            "applied_change <> 0 for the applied outcome",
            "outcome <> 'applied' or applied_change <> 0",
        ),
        holds(
            "applied_within_requested",
            "applied_change has the sign of requested_change and no larger magnitude",
            "sign(applied_change) * sign(requested_change) >= 0 "
            "and abs(applied_change) <= abs(requested_change)",
        ),
        holds(
            "admin_outcomes",
            "an admin adjustment is applied or noop_value_boundary",
            "rule_key <> 'admin' or outcome in ('applied', 'noop_value_boundary')",
        ),
        at_least("old_level", 0),
        at_least("new_level", 0),
        holds(
            "level_moves_only_when_applied",
            "new_level = old_level unless applied",
            "outcome = 'applied' or new_level = old_level",
        ),
        holds(
            "admin_rows_are_admin_adjust",
            "rule_key = 'admin' exactly for affinity.admin_adjust events",
            "(rule_key = 'admin') = (event_type = 'affinity.admin_adjust')",
        ),
    )
    if ref.levels:
        b.add(
            holds(
                "new_level_matches_value",
                f"new_level is the level of after_value ({_levels_text(ref)})",
                f"new_level = {_level_of('after_value', ref)}",
            ),
            holds(
                "old_level_matches_value",
                "old_level is the level of before_value",
                f"old_level = {_level_of('before_value', ref)}",
            ),
        )
    if ref.rules:
        enabled = ", ".join(lit(r.rule_key) for r in ref.rules if r.is_enabled) or "null"
        caps = " ".join(f"when {lit(r.rule_key)} then {r.single_cap}" for r in ref.rules)
        b.add(
            holds(
                "no_rule_outcome_matches_seed",
                "noop_no_rule exactly where the rule is missing or disabled in affinity_rules",
                f"rule_key = 'admin' or (outcome = 'noop_no_rule') = (rule_key not in ({enabled}))",
            ),
            holds(
                "within_single_cap",
                "abs(applied_change) <= the rule's single_cap",
                f"abs(applied_change) <= coalesce(case rule_key {caps} end, abs(applied_change))",
            ),
        )
    chain_rules = [
        Rule(
            "before_is_previous_after",
            "per device, before_value = the previous row's after_value (0 for its first row)",
            "before_value is distinct from coalesce(previous_after_value, 0)",
        ),
        Rule(
            "old_level_is_previous_new_level",
            "per device, old_level = the previous row's new_level (0 for its first row)",
            "old_level is distinct from coalesce(previous_new_level, 0)",
        ),
    ]
    b.check(
        "chain",
        "the ledger is chained per device in (occurred_at, event_id) order (one scan)",
        chain_rules,
        flagged_rows(
            f"""(
    select *,
        lag(after_value) over device_order as previous_after_value,
        lag(new_level) over device_order as previous_new_level
    from {BATCH}
    window device_order as (partition by brand_id, device_id order by occurred_at, event_id)
) as chained""",
            chain_rules,
        ),
    )
    if ref.rules and ref.timezone and ref.global_daily_cap:
        daily = " ".join(f"when {lit(r.rule_key)} then {r.daily_cap}" for r in ref.rules)
        tz = lit(ref.timezone)
        cap_rules = [
            Rule(
                "within_rule_daily_cap",
                "per device, rule and local day, the absolute "
                f"applied sum <= the rule's daily_cap (local day in {ref.timezone})",
            ),
            Rule(
                "within_global_daily_cap",
                "per device and local day, the positive applied "
                f"rule changes sum to <= global_daily_cap ({ref.global_daily_cap})",
            ),
        ]
        b.check(
            "daily_caps",
            "the daily caps hold (one scan)",
            cap_rules,
            f"""
with per_rule as (
    select brand_id, device_id, rule_key,
        (occurred_at at time zone {tz})::date as local_day,
        sum(abs(applied_change)) as absolute_applied,
        coalesce(sum(applied_change) filter (where applied_change > 0), 0) as positive_applied
    from {BATCH}
    where outcome = 'applied' and rule_key <> 'admin'
    group by brand_id, device_id, rule_key, (occurred_at at time zone {tz})::date
)
select 'within_rule_daily_cap' as failed_rule, brand_id, device_id, rule_key, local_day,
    absolute_applied as applied_sum, case rule_key {daily} end as cap
from per_rule
where absolute_applied > case rule_key {daily} end
union all
select 'within_global_daily_cap', brand_id, device_id, null, local_day,
    sum(positive_applied), {ref.global_daily_cap}
from per_rule
group by brand_id, device_id, local_day
having sum(positive_applied) > {ref.global_daily_cap}""",
        )


def dim_affinity_device(b: Builder) -> None:
    """One row per device (brand_id, device_id): favorability, level, last applied change.

    Decisions: the key is (brand_id, device_id), the device identity of the ledger. A device
    without an applied change (last_applied_at NULL) is still at 0, level 0. player_id may be
    NULL (a device that was never bound). With the levels seed, level is the level of
    favorability. When fct_affinity_ledger is in the same schema: every ledger device has a
    row, whose favorability is the after_value of its last ledger row and whose
    last_applied_at is its last applied change."""
    ref = b.table.reference
    b.add(
        between("favorability", 0, ref.max_affinity),
        at_least("level", 0),
        holds(
            "unchanged_device_at_zero",
            "a device without an applied change is at favorability 0, level 0",
            "last_applied_at is not null or (favorability = 0 and level = 0)",
        ),
        holds(
            "max_level_reached_ge_level",
            "max_level_reached >= level",
            "max_level_reached >= level",
        ),
    )
    if ref.levels:
        b.add(
            holds(
                "level_matches_favorability",
                f"level is the level of favorability ({_levels_text(ref)})",
                f"level = {_level_of('favorability', ref)}",
            )
        )
    ledger = b.table.sibling("fct_affinity_ledger")
    if ledger:
        rules = [
            Rule("ledger_devices_have_a_row", "every device of the ledger has a row"),
            Rule(
                "favorability_is_last_after_value",
                "favorability = the after_value of the device's last ledger row",
            ),
            Rule(
                "last_applied_at_matches_ledger",
                "last_applied_at = the device's last applied change in the ledger",
            ),
        ]
        b.check(
            "reconcile_ledger",
            "dim_affinity_device reconciles with fct_affinity_ledger",
            rules,
            f"""
with both_marts as (
    select brand_id, device_id,
        max(in_dim) as in_dim, max(dim_favorability) as favorability,
        max(ledger_after_value) as ledger_after_value,
        max(dim_last_applied_at) as last_applied_at,
        max(ledger_last_applied_at) as ledger_last_applied_at
    from (
        select brand_id, device_id, 1 as in_dim, favorability as dim_favorability,
            null::integer as ledger_after_value, last_applied_at as dim_last_applied_at,
            null::timestamptz as ledger_last_applied_at
        from {BATCH}
        union all
        select brand_id, device_id, 0, null,
            (array_agg(after_value order by occurred_at desc, event_id desc))[1], null,
            max(occurred_at) filter (where outcome = 'applied')
        from {ledger}
        group by brand_id, device_id
    ) as unioned
    group by brand_id, device_id
)
select 'ledger_devices_have_a_row' as failed_rule, * from both_marts
where in_dim = 0
union all
select 'favorability_is_last_after_value', * from both_marts
where in_dim = 1 and ledger_after_value is not null
    and favorability is distinct from ledger_after_value
union all
select 'last_applied_at_matches_ledger', * from both_marts
where in_dim = 1 and ledger_after_value is not null
    and last_applied_at is distinct from ledger_last_applied_at""",
        )


def fct_affinity_rewards(b: Builder) -> None:
    """One row per reward grant.

    Decisions: the key is (brand_id, device_id, level, reward_code); "no (device, level)
    granted twice" also means one granting event per device and level. With the level-rewards
    seed: each grant is a seed row (level, reward_code, quantity), a granted level is granted
    with all its reward codes, and a device's granted levels have no gap (levels are reached
    one after the other from 0). When fct_affinity_ledger is in the same schema: each grant's
    event is an applied ledger row of the same device, at granted_at, that raised the level
    from below to at least the granted level."""
    ref = b.table.reference
    b.add(
        at_least("level", 1, "level >= 1 (level 0 has no rewards)"),
        at_least("quantity", 1),
    )
    once_rules = [Rule("level_granted_once", "a device's level is granted by one event, once")]
    codes_per_level: dict[int, int] = {}
    for level, _code, _quantity in ref.level_rewards:
        codes_per_level[level] = codes_per_level.get(level, 0) + 1
    extra = ""
    if ref.level_rewards:
        rows = ", ".join(
            f"({level}, {lit(code)}, {quantity})" for level, code, quantity in ref.level_rewards
        )
        b.add(
            holds(
                "grant_is_a_seed_reward",
                "(level, reward_code, quantity) is a row of affinity_level_rewards",
                f"(level, reward_code, quantity) in ({rows})",
            )
        )
        expected = " ".join(f"when {level} then {n}" for level, n in codes_per_level.items())
        reward_levels = sorted(codes_per_level)
        levels_up_to = " ".join(
            f"when max(level) >= {level} then {i + 1}"
            for i, level in reversed(list(enumerate(reward_levels)))
        )
        once_rules += [
            Rule(
                "level_granted_in_full",
                "a granted level is granted with all its reward codes of affinity_level_rewards",
            ),
            Rule(
                "levels_granted_without_gaps",
                "a device is granted every reward level up to its highest granted level",
            ),
        ]
        extra = f"""
union all
select 'level_granted_in_full', brand_id, device_id, level, grants, first_event_id,
    last_event_id, case level {expected} else 0 end
from per_level
where grants <> case level {expected} else 0 end
union all
select 'levels_granted_without_gaps', brand_id, device_id, max(level), count(*), null, null,
    case {levels_up_to} else 0 end
from per_level
group by brand_id, device_id
having count(*) <> case {levels_up_to} else 0 end"""
    b.check(
        "grants",
        "each device level is granted once and in full (one scan)",
        once_rules,
        f"""
with per_level as (
    -- min/max rather than count(distinct): a hash aggregate, no sort
    select brand_id, device_id, level, count(*) as grants,
        min(event_id) as first_event_id, max(event_id) as last_event_id,
        min(granted_at) as first_granted_at, max(granted_at) as last_granted_at
    from {BATCH}
    group by brand_id, device_id, level
)
select 'level_granted_once' as failed_rule, brand_id, device_id, level, grants,
    first_event_id, last_event_id, null::bigint as expected
from per_level
where first_event_id <> last_event_id or first_granted_at <> last_granted_at{extra}""",
    )
    ledger = b.table.sibling("fct_affinity_ledger")
    if ledger:
        rule = Rule(
            "granted_by_a_level_up",
            "each grant's event is an applied ledger row of "
            "the device, at granted_at, that raised the level to at least the granted "
            "level from below it",
        )
        b.check(
            "reconcile_ledger",
            rule.name,
            [rule],
            f"""
with grants as (select * from {BATCH})
select 'granted_by_a_level_up' as failed_rule, grants.*
from grants
where not exists (
    select 1
    from {ledger} as ledger
    where ledger.event_id = grants.event_id
        and ledger.brand_id = grants.brand_id
        and ledger.device_id = grants.device_id
        and ledger.outcome = 'applied'
        and ledger.occurred_at = grants.granted_at
        and ledger.old_level < grants.level
        and ledger.new_level >= grants.level
)""",
        )


BUILDERS = (fct_affinity_ledger, dim_affinity_device, fct_affinity_rewards)
