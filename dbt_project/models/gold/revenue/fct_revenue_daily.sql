-- Grain: one row per (day, brand_id, region, currency).
-- NGR = GGR - bonus cost - jackpot contributions - payment fees (docs/metrics.md).
-- Incremental: a run recomputes, from silver, every day that received a new or late revenue
-- event since the last run (whatever its lateness); other days are left as they are.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='fail',
        post_hook="{{ record_batch_watermark() }}",
    )
}}

with

revenue_events as (

    select * from {{ ref('int_revenue_events') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

{% if is_incremental() %}
-- a second import of int_revenue_events, so that neither is referenced twice and PostgreSQL
-- inlines both (a CTE referenced twice is materialized in full, and its indexes are lost)
new_revenue_events as (

    select * from {{ ref('int_revenue_events') }}
    where batch_id > {{ batch_watermark() }}

),

touched_days as (

    select distinct event_date
    from new_revenue_events

    union

    -- a backfill range or the daily sweep (macros/forced_days.sql)
    select forced_day from ({{ forced_days() }}) as forced

),
{% endif %}

scoped as (

    select * from revenue_events
    {% if is_incremental() %}
    where event_date in (select event_date from touched_days)
    {% endif %}

),

daily as (

    select
        event_date as day,
        brand_id,
        region,
        currency,
        sum(stake_minor)::bigint as stake_minor,
        sum(win_minor)::bigint as win_minor,
        sum(bonus_cost_minor)::bigint as bonus_cost_minor,
        sum(jackpot_minor)::bigint as jackpot_minor,
        sum(fee_minor)::bigint as fees_minor

    from scoped
    group by 1, 2, 3, 4

),

final as (

    select
        daily.day,
        daily.brand_id,
        daily.region,
        daily.currency,
        daily.stake_minor,
        daily.win_minor,
        daily.stake_minor - daily.win_minor as ggr_minor,
        daily.bonus_cost_minor,
        daily.jackpot_minor,
        daily.fees_minor,
        daily.stake_minor - daily.win_minor
        - daily.bonus_cost_minor - daily.jackpot_minor - daily.fees_minor
            as ngr_minor,
        daily.win_minor::numeric / nullif(daily.stake_minor, 0) as rtp,
        {{ round_eur_minor(to_eur_minor_unrounded(
            'daily.stake_minor - daily.win_minor', 'fx.eur_minor_per_minor')) }}
            as ggr_eur_minor,
        {{ round_eur_minor(to_eur_minor_unrounded(
            'daily.stake_minor - daily.win_minor - daily.bonus_cost_minor'
            ~ ' - daily.jackpot_minor - daily.fees_minor', 'fx.eur_minor_per_minor')) }}
            as ngr_eur_minor

    from daily
    left join fx
        on fx.currency = daily.currency
        and fx.rate_date = daily.day

)

select * from final
