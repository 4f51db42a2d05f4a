-- Grain: one row per (day, brand_id), day = UTC day of the session start; only days on which
-- the brand has at least one started session. Sessions from int_sessions: a session without
-- a start counts nowhere; a completed session has an end at or after its start.
--
-- Incremental: a run recomputes, from int_sessions, every day holding a session that changed
-- (started, or completed) since the last run, whatever its lateness; a session never changes
-- day once started, so no other day moves.
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

sessions as (

    select * from {{ ref('int_sessions') }}
    where started_at is not null

),

{% if is_incremental() %}
touched_days as (

    select distinct start_date
    from sessions
    where batch_id > {{ batch_watermark() }}

    union

    -- a backfill range or the daily sweep (macros/forced_days.sql)
    select forced_day from ({{ forced_days() }}) as forced

),
{% endif %}

scoped as (

    select * from sessions
    {% if is_incremental() %}
    where start_date in (select start_date from touched_days)
    {% endif %}

),

daily as (

    select
        start_date as day,
        brand_id,
        count(*) as sessions_started,
        count(*) filter (where is_completed) as sessions_completed,
        count(distinct player_id) as players,
        coalesce(sum(duration_seconds) filter (where is_completed), 0) as total_session_seconds
    from scoped
    group by start_date, brand_id

),

final as (

    select
        day,
        brand_id,
        sessions_started::bigint as sessions_started,
        sessions_completed::bigint as sessions_completed,
        players::bigint as players,
        total_session_seconds::numeric as total_session_seconds,
        total_session_seconds::numeric / nullif(sessions_completed, 0) as avg_session_seconds
    from daily

)

select * from final
