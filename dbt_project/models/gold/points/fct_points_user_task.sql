-- Grain: one row per (brand_id, game_id, task_id, player_id): a player's awards on a task
-- (docs/points.md). Each timeline is ordered by awarded_at, ties by event_id; tied awards are
-- consecutive with a gap of 0 seconds.
--   avg_seconds_between_awards: mean of the gaps between consecutive awards; -1 with fewer
--     than two awards. Computed as the mean of the actual gaps (lag over the timeline).
--   last_window_seconds: the gap between the two most recent awards; 0 with fewer than two.
--
-- Incremental: a run recomputes, from the silver awards, every (brand, game, task, player)
-- that received an award since the last run (whatever its lateness), over all of its awards,
-- and only those: exact under late events, and a key's rows are never dropped.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['brand_id', 'game_id', 'task_id', 'player_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['brand_id', 'game_id', 'task_id', 'player_id'], 'unique': true},
        ],
        post_hook="{{ record_batch_watermark() }}",
    )
}}

{% set watermark = batch_watermark() %}

with

-- not materialized: each use reads silver through its own index (batch_id for what is new,
-- the key for the touched rows) instead of a full copy of the table
awards as not materialized (

    select * from {{ ref('int_points_awards') }}

),

{% if is_incremental() %}
touched_keys as (

    select distinct brand_id, game_id, task_id, player_id
    from awards
    where batch_id > {{ watermark }}

),
{% endif %}

scoped as (

    select awards.*
    from awards
    {% if is_incremental() %}
    inner join touched_keys using (brand_id, game_id, task_id, player_id)
    {% endif %}

),

timeline as (

    select
        brand_id,
        game_id,
        task_id,
        player_id,
        awarded_at,
        points,
        extract(epoch from awarded_at - lag(awarded_at) over by_time) as gap_seconds,
        -- awarded_at is never NULL, so only the latest award has no next one
        lead(awarded_at) over by_time is null as is_latest

    from scoped
    window by_time as (
        partition by brand_id, game_id, task_id, player_id
        order by awarded_at, event_id
    )

),

per_player_task as (

    select
        brand_id,
        game_id,
        task_id,
        player_id,
        count(*) as awards,
        sum(points)::bigint as total_points,
        min(awarded_at) as first_award_at,
        max(awarded_at) as last_award_at,
        -- over the n - 1 gaps: the first award has none
        avg(gap_seconds) as mean_gap_seconds,
        max(gap_seconds) filter (where is_latest) as latest_gap_seconds

    from timeline
    group by brand_id, game_id, task_id, player_id

),

final as (

    select
        brand_id,
        game_id,
        task_id,
        player_id,
        awards,
        total_points,
        first_award_at,
        last_award_at,
        -- trim_scale: the exact value without trailing zeros (40, not 40.0000000000000000)
        trim_scale(coalesce(mean_gap_seconds, -1)) as avg_seconds_between_awards,
        trim_scale(coalesce(latest_gap_seconds, 0)) as last_window_seconds

    from per_player_task

)

select * from final
