-- Grain: one row per player, (brand_id, player_id): player ids are per brand. The players
-- with a deduplicated, valid player.registered or payment.captured: the members of the
-- registration and first-deposit cohorts.
--
--   * registered_at: the earliest player.registered (a player who registers twice keeps the
--     first); registration_count counts them.
--   * first_deposit_at: the earliest payment.captured.
--   * region: of the first registration; of the first deposit while no registration is in
--     the data (ties on time broken by region, so the choice never depends on load order).
--
-- Incremental (delete+insert on the player): the events of batches above the highest one
-- already here (up to the run's horizon) are folded into the players' rows with least() /
-- sums, which gives the same row as a rebuild. batch_id = the highest batch among the
-- player's events.
{{
    config(
        unique_key=['brand_id', 'player_id'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['brand_id', 'player_id'], 'unique': true},
            {'columns': ['batch_id']},
        ],
    )
}}

with

player_events as (

    select brand_id, player_id, event_type, occurred_at, region, batch_id
    from {{ ref('int_events') }}
    where event_type in ('player.registered', 'payment.captured')
        and invalid_reason is null
        and batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}

),

new_players as (

    select
        brand_id,
        player_id,
        min(occurred_at) filter (where event_type = 'player.registered') as registered_at,
        (
            array_agg(region order by occurred_at, region)
            filter (where event_type = 'player.registered')
        )[1] as registration_region,
        count(*) filter (where event_type = 'player.registered') as registration_count,
        min(occurred_at) filter (where event_type = 'payment.captured') as first_deposit_at,
        (
            array_agg(region order by occurred_at, region)
            filter (where event_type = 'payment.captured')
        )[1] as first_deposit_region,
        max(batch_id) as batch_id
    from player_events
    group by brand_id, player_id

),

merged as (

    {% if is_incremental() %}
    select
        new_players.brand_id,
        new_players.player_id,
        least(published.registered_at, new_players.registered_at) as registered_at,
        coalesce(published.registration_count, 0) + new_players.registration_count
            as registration_count,
        least(published.first_deposit_at, new_players.first_deposit_at) as first_deposit_at,
        case
            -- a registration wins over a deposit; the earliest registration over later ones
            when new_players.registered_at is not null
                and (
                    published.registered_at is null
                    or (new_players.registered_at, new_players.registration_region)
                    < (published.registered_at, published.region)
                )
                then new_players.registration_region
            when published.registered_at is not null then published.region
            -- no registration at all: the region of the first deposit
            when new_players.first_deposit_at is not null
                and (
                    published.first_deposit_at is null
                    or (new_players.first_deposit_at, new_players.first_deposit_region)
                    < (published.first_deposit_at, published.region)
                )
                then new_players.first_deposit_region
            else published.region
        end as region,
        greatest(published.batch_id, new_players.batch_id) as batch_id
    from new_players
    left join {{ this }} as published
        on published.brand_id = new_players.brand_id
        and published.player_id = new_players.player_id
    {% else %}
    select
        brand_id,
        player_id,
        registered_at,
        registration_count,
        first_deposit_at,
        coalesce(registration_region, first_deposit_region) as region,
        batch_id
    from new_players
    {% endif %}

),

final as (

    select
        brand_id,
        player_id,
        region,
        registered_at,
        (registered_at at time zone 'UTC')::date as registration_date,
        registration_count::bigint as registration_count,
        first_deposit_at,
        (first_deposit_at at time zone 'UTC')::date as first_deposit_date,
        batch_id
    from merged

)

select * from final
