{#-
    Data tests of the affinity replay: the invariants of docs/affinity.md, checked on the marts
    independently of the replay code (they recompute local days, caps and levels from the
    seeds). Each returns the offending rows.
-#}

{#- Rows for which `expression` is not true (NULL counts as a failure). -#}
{% test affinity_expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}

{% test affinity_row_count(model, expected) %}

select count(*) as row_count
from {{ model }}
having count(*) <> {{ expected }}

{% endtest %}

{#- after_value (or any value column) within [0, max_affinity]. -#}
{% test affinity_value_within_bounds(model, column_name) %}

select ledger.*
from {{ model }} as ledger
cross join {{ ref('affinity_settings') }} as settings
where ledger.{{ column_name }} < 0
    or ledger.{{ column_name }} > settings.max_affinity

{% endtest %}

{#- A non-applied outcome changes nothing; an applied one changes the value by applied_change. -#}
{% test affinity_only_applied_changes(model) %}

select *
from {{ model }}
where (outcome <> 'applied'
        and (applied_change <> 0 or after_value <> before_value or new_level <> old_level))
    or (outcome = 'applied'
        and (applied_change = 0 or after_value - before_value <> applied_change))

{% endtest %}

{#- Per device, each row starts where the previous one ended (the first one at 0, level 0). -#}
{% test affinity_ledger_is_chained(model) %}

with

chained as (

    select
        *,
        lag(after_value, 1, 0) over device_order as previous_after_value,
        lag(new_level, 1, 0) over device_order as previous_new_level
    from {{ model }}
    window device_order as (
        partition by brand_id, device_id
        order by occurred_at, event_id collate "C"
    )

)

select *
from chained
where before_value <> previous_after_value
    or old_level <> previous_new_level

{% endtest %}

{#- Per device, rule and local day (configured timezone): sum of |applied| <= daily_cap. -#}
{% test affinity_within_rule_daily_cap(model) %}

with

daily as (

    select
        ledger.brand_id,
        ledger.device_id,
        ledger.rule_key,
        (ledger.occurred_at at time zone settings.timezone)::date as local_day,
        sum(abs(ledger.applied_change)) as applied_total
    from {{ model }} as ledger
    cross join {{ ref('affinity_settings') }} as settings
    where ledger.event_type = 'affinity.triggered'
    group by 1, 2, 3, 4

)

select daily.*, rules.daily_cap
from daily
inner join {{ ref('affinity_rules') }} as rules
    on rules.rule_key = daily.rule_key
where daily.applied_total > rules.daily_cap

{% endtest %}

{#- Per device and local day: positive rule changes <= global_daily_cap (admin not counted). -#}
{% test affinity_within_global_daily_cap(model) %}

with

daily as (

    select
        ledger.brand_id,
        ledger.device_id,
        (ledger.occurred_at at time zone settings.timezone)::date as local_day,
        sum(greatest(ledger.applied_change, 0)) as positive_total,
        max(settings.global_daily_cap) as global_daily_cap
    from {{ model }} as ledger
    cross join {{ ref('affinity_settings') }} as settings
    where ledger.event_type = 'affinity.triggered'
    group by 1, 2, 3

)

select *
from daily
where positive_total > global_daily_cap

{% endtest %}

{#- new_level is the highest level whose min_value <= after_value. -#}
{% test affinity_level_matches_value(model) %}

select ledger.*
from {{ model }} as ledger
where ledger.new_level <> coalesce((
    select max(levels.level)
    from {{ ref('affinity_levels') }} as levels
    where levels.min_value <= ledger.after_value
), 0)

{% endtest %}

{#- No (device, level) granted by two events. -#}
{% test affinity_level_granted_once(model) %}

select brand_id, device_id, level, count(distinct event_id) as granting_events
from {{ model }}
group by brand_id, device_id, level
having count(distinct event_id) > 1

{% endtest %}
