-- Grain: one row per (day, brand_id): the game-server counters (docs/metrics.md).
-- A (day, brand_id) has a row when it has at least one valid event of int_economy_events
-- (a registration, repeated or not, included), so rows never disappear as data arrives.
--
-- new_players counts each (brand_id, player_id) once, on the UTC day of its first
-- player.registered; a later registration of the same player counts nowhere.
-- purchase_revenue_eur_minor: gems.purchase amount_minor, each at the EUR rate of its UTC day,
-- summed and rounded only at the end; NULL when a purchase of the row has no rate.
--
-- Incremental: a run recomputes, from silver, every day touched by events that arrived since
-- the last run (whatever their lateness), and only those. A late registration can also move a
-- player's first registration away from a day: every registration day of a player with a new
-- registration is recomputed as well.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='fail',
        post_hook="{{ record_batch_watermark() }}",
    )
}}

{% set watermark = batch_watermark() %}

with

-- not materialized: each use reads silver through its own index (batch_id for what is new,
-- the key for the touched rows) instead of a full copy of the table
economy_events as not materialized (

    select * from {{ ref('int_economy_events') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

registrations as (

    select brand_id, player_id, occurred_at, event_date, batch_id
    from economy_events
    where event_type = 'player.registered'

),

{% if is_incremental() %}
players_with_new_registrations as (

    select distinct brand_id, player_id
    from registrations
    where batch_id > {{ watermark }}

),

touched_days as (

    select event_date
    from economy_events
    where batch_id > {{ watermark }}

    union

    -- the day a player's first registration leaves when an earlier one arrives late
    select registrations.event_date
    from registrations
    inner join players_with_new_registrations using (brand_id, player_id)

    union

    -- a backfill range or the daily sweep (macros/forced_days.sql)
    select forced_day from ({{ forced_days() }}) as forced

),
{% endif %}

scoped as (

    select * from economy_events
    {% if is_incremental() %}
    where event_date in (select event_date from touched_days)
    {% endif %}

),

first_registrations as (

    -- each player's first registration, over all their registrations; on an incremental run
    -- only for the players who registered on a day in scope
    select
        brand_id,
        player_id,
        (min(occurred_at) at time zone 'UTC')::date as first_registered_on

    from registrations
    {% if is_incremental() %}
    where
        (brand_id, player_id) in (
            select brand_id, player_id from scoped
            where event_type = 'player.registered'
        )
    {% endif %}
    group by brand_id, player_id

),

new_players as (

    select
        first_registered_on as day,
        brand_id,
        count(*) as new_players

    from first_registrations
    {% if is_incremental() %}
    where first_registered_on in (select event_date from touched_days)
    {% endif %}
    group by first_registered_on, brand_id

),

counters_by_currency as (

    -- currency is NULL except on gems.purchase: one extra group per purchase currency
    select
        event_date as day,
        brand_id,
        currency,
        sum(amount) filter (where event_type = 'credits.earn') as credits_earned,
        sum(amount) filter (where event_type = 'credits.spend') as credits_spent,
        sum(amount) filter (where event_type = 'gems.earn') as gems_earned,
        sum(amount) filter (where event_type = 'gems.spend') as gems_spent,
        sum(gems) filter (where event_type = 'gems.purchase') as gems_purchased,
        sum(amount_minor) filter (where event_type = 'gems.purchase') as purchase_minor,
        count(*) filter (where event_type = 'gems.purchase') as purchases,
        count(*) filter (where event_type = 'dungeon.complete') as dungeons_run,
        count(*) filter (where event_type = 'craft.complete') as crafts_completed,
        count(*) filter (
            where event_type in ('pvp.battle', 'pvp.ranked.battle')
        ) as pvp_battles,
        count(*) filter (where event_type = 'raid.complete') as raid_battles,
        count(*) filter (where event_type = 'market.sale') as market_sales

    from scoped
    group by event_date, brand_id, currency

),

converted as (

    select
        counters_by_currency.*,
        fx.eur_minor_per_minor,
        {{ to_eur_minor_unrounded('counters_by_currency.purchase_minor',
                                  'fx.eur_minor_per_minor') }} as purchase_eur_minor_unrounded

    from counters_by_currency
    left join fx
        on fx.currency = counters_by_currency.currency
        and fx.rate_date = counters_by_currency.day

),

daily as (

    select
        day,
        brand_id,
        coalesce(sum(credits_earned), 0)::bigint as credits_earned,
        coalesce(sum(credits_spent), 0)::bigint as credits_spent,
        coalesce(sum(gems_earned), 0)::bigint as gems_earned,
        coalesce(sum(gems_spent), 0)::bigint as gems_spent,
        coalesce(sum(gems_purchased), 0)::bigint as gems_purchased,
        case
            when bool_or(purchases > 0 and eur_minor_per_minor is null) then null
            else {{ round_eur_minor('coalesce(sum(purchase_eur_minor_unrounded), 0)') }}
        end as purchase_revenue_eur_minor,
        sum(dungeons_run)::bigint as dungeons_run,
        sum(crafts_completed)::bigint as crafts_completed,
        sum(pvp_battles)::bigint as pvp_battles,
        sum(raid_battles)::bigint as raid_battles,
        sum(market_sales)::bigint as market_sales

    from converted
    group by day, brand_id

),

final as (

    select
        daily.day,
        daily.brand_id,
        coalesce(new_players.new_players, 0) as new_players,
        daily.credits_earned,
        daily.credits_spent,
        daily.gems_earned,
        daily.gems_spent,
        daily.gems_purchased,
        daily.purchase_revenue_eur_minor,
        daily.dungeons_run,
        daily.crafts_completed,
        daily.pvp_battles,
        daily.raid_battles,
        daily.market_sales

    from daily
    left join new_players
        on new_players.day = daily.day
        and new_players.brand_id = daily.brand_id

)

select * from final
