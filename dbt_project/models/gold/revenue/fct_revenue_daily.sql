-- Grain: one row per (day, brand_id, region, currency).
-- Stake and win: each settled bet once, with the money of its last bet.settled, on that
-- settlement's day (int_bets). Bonus cost, jackpot contributions and payment fees: every
-- valid, deduplicated event of the day (int_revenue_events). GGR, NGR and RTP as defined in
-- macros/metrics.sql (docs/metrics.md).
--
-- Incremental: a run recomputes, from silver, every day that received a new or late revenue
-- event since the last run, and every day a changed bet can have been counted on
-- ([first_settlement_date, settled_date] of int_bets rows above the watermark); the pre-hook
-- first deletes those days, so a day left without facts (its only bet was resettled on a later
-- day) keeps no stale row. Other days are left as they are.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_days(ref('int_bets'), 'first_settlement_date', 'settled_date') }}",
        post_hook=["{{ record_candidate_changes() }}", "{{ record_batch_watermark() }}"],
    )
}}

with

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

{% if is_incremental() %}
touched_days as (

    {{ revenue_touched_days() }}

),
{% endif %}

facts as (

    -- macros/revenue_facts.sql: each bet once (its last settlement), and the other facts
    {{ revenue_facts(['brand_id', 'region', 'currency']) }}

),

daily as (

    select
        day,
        brand_id,
        region,
        currency,
        sum(stake_minor)::bigint as stake_minor,
        sum(win_minor)::bigint as win_minor,
        sum(bonus_cost_minor)::bigint as bonus_cost_minor,
        sum(jackpot_minor)::bigint as jackpot_minor,
        sum(fee_minor)::bigint as fees_minor

    from facts
    group by 1, 2, 3, 4

),

{% set daily_ggr = ggr('daily.stake_minor', 'daily.win_minor') -%}
{% set daily_ngr = ngr('daily.stake_minor', 'daily.win_minor', 'daily.bonus_cost_minor',
    'daily.jackpot_minor', 'daily.fees_minor') -%}
final as (

    select
        daily.day,
        daily.brand_id,
        daily.region,
        daily.currency,
        daily.stake_minor,
        daily.win_minor,
        {{ daily_ggr }} as ggr_minor,
        daily.bonus_cost_minor,
        daily.jackpot_minor,
        daily.fees_minor,
        {{ daily_ngr }} as ngr_minor,
        {{ rtp('daily.win_minor', 'daily.stake_minor') }} as rtp,
        {{ round_eur_minor(to_eur_minor_unrounded(daily_ggr, 'fx.eur_minor_per_minor')) }}
            as ggr_eur_minor,
        {{ round_eur_minor(to_eur_minor_unrounded(daily_ngr, 'fx.eur_minor_per_minor')) }}
            as ngr_eur_minor

    from daily
    left join fx
        on fx.currency = daily.currency
        and fx.rate_date = daily.day

)

select * from final
