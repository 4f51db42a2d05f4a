-- Grain: one row per (brand_id, player_id, revenue_date, currency): a player's revenue facts
-- of one UTC day in one currency. Stake and win: each settled bet once, with the money of its
-- last bet.settled, on that settlement's day (int_bets, as fct_revenue_daily); bonus cost,
-- jackpot contributions and payment fees from int_revenue_events. Each fact belongs to the
-- player of its event, so payment fees are attributed to the paying player. Money in minor
-- units of `currency`, not converted: fct_ltv converts at the day's rate when it reads this.
--
-- Incremental, by day as fct_revenue_daily: a run recomputes every day with a new revenue
-- event and every day a changed bet can have been counted on; the pre-hook deletes those days
-- first, so a player-day left without facts (a bet resettled on a later day) keeps no row.
-- batch_id = the highest batch among the row's facts.
{{
    config(
        unique_key='revenue_date',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['brand_id', 'player_id', 'revenue_date', 'currency'], 'unique': true},
            {'columns': ['revenue_date']},
        ],
        pre_hook="{{ delete_changed_days(ref('int_bets'), 'first_settlement_date', 'settled_date',
            day_column='revenue_date') }}",
        post_hook="{{ record_batch_watermark() }}",
    )
}}

with

{% if is_incremental() %}
touched_days as (

    {{ revenue_touched_days('revenue_date') }}

),
{% endif %}

facts as (

    -- macros/revenue_facts.sql: each bet once (its last settlement), and the other facts
    {{ revenue_facts(['brand_id', 'player_id', 'currency', 'batch_id']) }}

),

final as (

    select
        brand_id,
        player_id,
        day as revenue_date,
        currency,
        sum(stake_minor)::bigint as stake_minor,
        sum(win_minor)::bigint as win_minor,
        sum(bonus_cost_minor)::bigint as bonus_cost_minor,
        sum(jackpot_minor)::bigint as jackpot_minor,
        sum(fee_minor)::bigint as fees_minor,
        max(batch_id) as batch_id
    from facts
    group by brand_id, player_id, day, currency

)

select * from final
