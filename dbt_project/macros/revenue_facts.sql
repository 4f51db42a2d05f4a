{#-
    The revenue facts of every revenue mart, in one place (docs/metrics.md, "One settlement per
    bet"): each settled bet once, with the stake and win of its last settlement, on that
    settlement's day (int_bets), and the bonus cost, jackpot contributions and payment fees of
    every valid, deduplicated event (int_revenue_events). One row per fact, with `day`, the
    facts and the given dimension columns (columns both models have); zeros where a fact
    does not apply.

    revenue_facts(dimensions, touched_days): the facts of the days in the CTE `touched_days`
    (a column `day`) on incremental runs, all of them otherwise.
    revenue_touched_days(day_column): the days an incremental revenue model recomputes: a new
    revenue event's day, every day a changed bet can have been counted on, and the forced days.
-#}

{% macro revenue_facts(dimensions, touched_days='touched_days') -%}
    select
        settled_date as day,
        {% for dimension in dimensions %}{{ dimension }}, {% endfor %}
        stake_minor,
        win_minor,
        0 as bonus_cost_minor,
        0 as jackpot_minor,
        0 as fee_minor
    from {{ ref('int_bets') }}
    where settled_at is not null
        {% if is_incremental() %}
        and settled_date in (select day from {{ touched_days }})
        {% endif %}

    union all

    select
        event_date,
        {% for dimension in dimensions %}{{ dimension }}, {% endfor %}
        0,
        0,
        bonus_cost_minor,
        jackpot_minor,
        fee_minor
    from {{ ref('int_revenue_events') }}
    {% if is_incremental() %}
    where event_date in (select day from {{ touched_days }})
    {% endif %}
{%- endmacro %}

{% macro revenue_touched_days(day_column='day') -%}
    -- reads its relations itself: a CTE referenced twice would be materialized in full (and
    -- its indexes lost)
    -- (macros/changed_days.sql: the days the pre-hook deletes)
    {{ recomputed_days(ref('int_bets'), 'first_settlement_date', 'settled_date', day_column) }}

    union

    select distinct event_date
    from {{ ref('int_revenue_events') }}
    where batch_id > {{ batch_watermark() }}
{%- endmacro %}
