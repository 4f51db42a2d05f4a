-- Grain: one row per bet_id: the bet's first bet.placed and its last bet.settled event, each
-- chosen by (occurred_at, event_id) among the valid, deduplicated events of the bet. The last
-- settlement supersedes the earlier ones (a resettlement, or a settlement re-sent under another
-- event_id): every mart takes a bet's money facts from this row (docs/metrics.md, "One
-- settlement per bet"); audit.dq_superseded_settlements lists the others.
--
-- A bet settled without a placed event has a row (it counts in revenue and rollups) with no
-- placed_at and no settle lag; a bet placed but not yet settled has a row with no settled_at.
-- The envelope, game and money columns are those of the settled event, else of the placed one.
--
-- Incremental by batch, with state: a run takes the bet events of the batches above the
-- highest one already here and merges them into the kept rows of the bets they touch (the
-- first and the last of a set of events are associative). The run's rows replace those bets
-- (delete+insert on bet_id); a row's batch_id is the highest batch of its events, so gold
-- marts find every bet that changed. A later settlement moves a bet to a later day: the days a
-- bet can ever have been counted on lie in [first_settlement_date, settled_date], which
-- incremental marts recompute.
{{
    config(
        unique_key='bet_id',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['bet_id'], 'unique': true},
            {'columns': ['batch_id']},
            {'columns': ['settled_date']},
        ],
    )
}}

with

new_bet_events as (

    -- the valid first copies of the bet events of the batches not seen yet (win_minor only
    -- on a bet.settled: the contract does not check it on a bet.placed)
    select
        event_id,
        event_type,
        occurred_at,
        event_date,
        brand_id,
        region,
        player_id,
        batch_id,
        bet_id,
        game_id,
        provider_id,
        stake_minor,
        win_minor,
        currency,
        in_bonus as is_in_bonus

    from (
        {{ valid_first_copies(['bet.placed', 'bet.settled'],
            ['bet_id', 'game_id', 'provider_id', 'stake_minor', 'win_minor', 'currency',
             'in_bonus']) }}
    ) as first_copies

),

{% if is_incremental() %}
previous as (

    -- the kept state of the bets this run's events touch
    select * from {{ this }}
    where bet_id in (select bet_id from new_bet_events)

),
{% endif %}

candidates as (

    -- every new event (standing for one event), and the first placed / last settled event
    -- each touched bet already has (standing for the events it was chosen from)
    select
        bet_id, event_type, event_id, occurred_at, brand_id, region, player_id,
        game_id, provider_id, currency, stake_minor, win_minor, is_in_bonus,
        1 as events,
        case when event_type = 'bet.settled' then event_date end as first_settlement_date,
        batch_id
    from new_bet_events

    {% if is_incremental() %}
    union all

    select
        bet_id, 'bet.placed', placed_event_id, placed_at, brand_id, region, player_id,
        game_id, provider_id, currency, stake_minor, win_minor, is_in_bonus,
        placed_events, null, batch_id
    from previous
    where placed_event_id is not null

    union all

    select
        bet_id, 'bet.settled', settled_event_id, settled_at, brand_id, region, player_id,
        game_id, provider_id, currency, stake_minor, win_minor, is_in_bonus,
        settled_events, first_settlement_date, batch_id
    from previous
    where settled_event_id is not null
    {% endif %}

),

ranked as (

    -- one sort for both: the first of a type has no predecessor, the last no successor
    select
        *,
        lag(event_id) over by_time is null as is_first_of_type,
        lead(event_id) over by_time is null as is_last_of_type
    from candidates
    window by_time as (partition by bet_id, event_type order by occurred_at, event_id)

),

{% set first_placed = "is_first_of_type and event_type = 'bet.placed'" -%}
{% set last_settled = "is_last_of_type and event_type = 'bet.settled'" -%}
pivoted as (

    -- one aggregation over the rows sorted by bet_id: the first placed and last settled
    -- event's columns, and what all the bet's events add up to (no joins)
    select
        bet_id,
        {% for column in ['brand_id', 'region', 'player_id', 'game_id', 'provider_id',
                          'currency', 'stake_minor'] %}
        coalesce(
            max({{ column }}) filter (where {{ last_settled }}),
            max({{ column }}) filter (where {{ first_placed }})
        ) as {{ column }},
        {% endfor %}
        max(win_minor) filter (where {{ last_settled }}) as win_minor,
        coalesce(
            bool_or(is_in_bonus) filter (where {{ last_settled }}),
            bool_or(is_in_bonus) filter (where {{ first_placed }})
        ) as is_in_bonus,
        max(event_id) filter (where {{ first_placed }}) as placed_event_id,
        max(occurred_at) filter (where {{ first_placed }}) as placed_at,
        max(event_id) filter (where {{ last_settled }}) as settled_event_id,
        max(occurred_at) filter (where {{ last_settled }}) as settled_at,
        min(first_settlement_date) as first_settlement_date,
        coalesce(sum(events) filter (where event_type = 'bet.placed'), 0) as placed_events,
        coalesce(sum(events) filter (where event_type = 'bet.settled'), 0) as settled_events,
        max(batch_id) as batch_id
    from ranked
    group by bet_id

),

final as (

    select
        bet_id,
        brand_id,
        region,
        player_id,
        game_id,
        provider_id,
        currency,
        stake_minor,
        win_minor,
        is_in_bonus,
        placed_event_id,
        placed_at,
        settled_event_id,
        settled_at,
        (settled_at at time zone 'UTC')::date as settled_date,
        first_settlement_date,
        extract(epoch from settled_at - placed_at) as settle_lag_seconds,
        placed_events::bigint as placed_events,
        settled_events::bigint as settled_events,
        batch_id

    from pivoted

)

select * from final
