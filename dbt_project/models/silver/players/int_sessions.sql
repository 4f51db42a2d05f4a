-- Grain: one row per session, (brand_id, session_id): session ids are taken per brand, like
-- player ids. Built from deduplicated, valid session.started and session.ended events.
--
-- Rules (documented in _silver_players.yml):
--   * A session's start is its first landed session.started (lowest batch_id, line_no), its
--     end its first landed session.ended; later copies under the same session_id are ignored,
--     as for duplicate events. Once set, a start or an end never changes, so a session never
--     moves to another day.
--   * player_id and region come from the start (from the end while no start has landed).
--   * A session is completed when it has a start and an end at or after the start;
--     duration_seconds = ended_at - started_at (exact, millisecond precision).
--   * An end without a start is kept (started_at NULL) until its start lands; it counts
--     nowhere. An end before its start keeps ended_at but is not completed (no duration).
--
-- Incremental (delete+insert on the session): the session events of batches above the highest
-- batch already here (up to the run's horizon) fill in the start or end of the sessions that
-- lack it; sessions that do not change are not rewritten. batch_id = the batch that last
-- changed the row (the later of its start's and end's batches).
{{
    config(
        unique_key=['brand_id', 'session_id'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['brand_id', 'session_id'], 'unique': true},
            {'columns': ['batch_id']},
            {'columns': ['start_date']},
        ],
    )
}}

with

session_events as (

    select
        brand_id,
        {{ json_text('payload', 'session_id') }} as session_id,
        event_type,
        occurred_at,
        player_id,
        region,
        batch_id,
        line_no
    from {{ ref('int_events') }}
    where event_type in ('session.started', 'session.ended')
        and invalid_reason is null
        and batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}

),

first_starts as (

    select distinct on (brand_id, session_id)
        brand_id, session_id, player_id, region, occurred_at, batch_id
    from session_events
    where event_type = 'session.started'
    order by brand_id, session_id, batch_id, line_no

),

first_ends as (

    select distinct on (brand_id, session_id)
        brand_id, session_id, player_id, region, occurred_at, batch_id
    from session_events
    where event_type = 'session.ended'
    order by brand_id, session_id, batch_id, line_no

),

new_sessions as (

    select
        coalesce(first_starts.brand_id, first_ends.brand_id) as brand_id,
        coalesce(first_starts.session_id, first_ends.session_id) as session_id,
        first_starts.player_id as start_player_id,
        first_starts.region as start_region,
        first_starts.occurred_at as started_at,
        first_starts.batch_id as start_batch_id,
        first_ends.player_id as end_player_id,
        first_ends.region as end_region,
        first_ends.occurred_at as ended_at,
        first_ends.batch_id as end_batch_id
    from first_starts
    full outer join first_ends
        on first_ends.brand_id = first_starts.brand_id
        and first_ends.session_id = first_starts.session_id

),

merged as (

    {% if is_incremental() %}
    select
        new_sessions.brand_id,
        new_sessions.session_id,
        case
            when published.started_at is not null then published.player_id
            else
                coalesce(
                    new_sessions.start_player_id, published.player_id, new_sessions.end_player_id
                )
        end as player_id,
        case
            when published.started_at is not null then published.region
            else coalesce(new_sessions.start_region, published.region, new_sessions.end_region)
        end as region,
        coalesce(published.started_at, new_sessions.started_at) as started_at,
        coalesce(published.ended_at, new_sessions.ended_at) as ended_at,
        greatest(
            published.batch_id,
            case when published.started_at is null then new_sessions.start_batch_id end,
            case when published.ended_at is null then new_sessions.end_batch_id end
        ) as batch_id
    from new_sessions
    left join {{ this }} as published
        on published.brand_id = new_sessions.brand_id
        and published.session_id = new_sessions.session_id
    -- only sessions that are new or gain their start or end
    where published.session_id is null
        or (published.started_at is null and new_sessions.started_at is not null)
        or (published.ended_at is null and new_sessions.ended_at is not null)
    {% else %}
    select
        brand_id,
        session_id,
        coalesce(start_player_id, end_player_id) as player_id,
        coalesce(start_region, end_region) as region,
        started_at,
        ended_at,
        greatest(start_batch_id, end_batch_id) as batch_id
    from new_sessions
    {% endif %}

),

final as (

    select
        brand_id,
        session_id,
        player_id,
        region,
        started_at,
        (started_at at time zone 'UTC')::date as start_date,
        ended_at,
        coalesce(ended_at >= started_at, false) as is_completed,
        case
            when ended_at >= started_at then extract(epoch from ended_at - started_at)
        end as duration_seconds,
        batch_id
    from merged

)

select * from final
