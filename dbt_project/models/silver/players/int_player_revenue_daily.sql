-- Grain: one row per (brand_id, player_id, revenue_date, currency): a player's revenue facts
-- of one UTC day in one currency, from int_revenue_events (deduplicated, valid bet.settled,
-- bonus.consumed, jackpot.contribution and payment.captured). Each fact belongs to the player
-- of its event, so payment fees are attributed to the paying player. Money in minor units of
-- `currency`, not converted: fct_ltv converts at the day's rate when it reads this model.
--
-- Incremental (delete+insert on the player-day-currency): the revenue events of batches above
-- the highest one already here (up to the run's horizon) are added to their rows. batch_id =
-- the highest batch among the row's events, so max(batch_id) is the last batch taken in and no
-- event is summed twice.
{{
    config(
        unique_key=['brand_id', 'player_id', 'revenue_date', 'currency'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['brand_id', 'player_id', 'revenue_date', 'currency'], 'unique': true},
            {'columns': ['batch_id']},
        ],
    )
}}

with

revenue_events as (

    select * from {{ ref('int_revenue_events') }}
    where batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}

),

new_days as (

    select
        brand_id,
        player_id,
        event_date as revenue_date,
        currency,
        sum(stake_minor) as stake_minor,
        sum(win_minor) as win_minor,
        sum(bonus_cost_minor) as bonus_cost_minor,
        sum(jackpot_minor) as jackpot_minor,
        sum(fee_minor) as fees_minor,
        max(batch_id) as batch_id
    from revenue_events
    group by brand_id, player_id, event_date, currency

),

merged as (

    select
        new_days.brand_id,
        new_days.player_id,
        new_days.revenue_date,
        new_days.currency,
        {% if is_incremental() %}
        new_days.stake_minor + coalesce(published.stake_minor, 0) as stake_minor,
        new_days.win_minor + coalesce(published.win_minor, 0) as win_minor,
        new_days.bonus_cost_minor + coalesce(published.bonus_cost_minor, 0)
            as bonus_cost_minor,
        new_days.jackpot_minor + coalesce(published.jackpot_minor, 0) as jackpot_minor,
        new_days.fees_minor + coalesce(published.fees_minor, 0) as fees_minor,
        {% else %}
        new_days.stake_minor,
        new_days.win_minor,
        new_days.bonus_cost_minor,
        new_days.jackpot_minor,
        new_days.fees_minor,
        {% endif %}
        new_days.batch_id
    from new_days
    {% if is_incremental() %}
    left join {{ this }} as published
        on published.brand_id = new_days.brand_id
        and published.player_id = new_days.player_id
        and published.revenue_date = new_days.revenue_date
        and published.currency = new_days.currency
    {% endif %}

),

final as (

    select
        brand_id,
        player_id,
        revenue_date,
        currency,
        stake_minor::bigint as stake_minor,
        win_minor::bigint as win_minor,
        bonus_cost_minor::bigint as bonus_cost_minor,
        jackpot_minor::bigint as jackpot_minor,
        fees_minor::bigint as fees_minor,
        batch_id
    from merged

)

select * from final
