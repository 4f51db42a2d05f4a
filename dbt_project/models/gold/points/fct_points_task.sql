-- Grain: one row per (brand_id, game_id, task_id): all of a brand's players' awards on a task
-- (docs/points.md).
--   avg_seconds_between_awards: every player's awards on the task merged into one timeline
--     ordered by awarded_at (ties by event_id, gap 0); the mean of the gaps between
--     consecutive awards, whoever made them; -1 with fewer than two awards.
--     The n - 1 gaps of a timeline ordered by time telescope: their sum is last - first, so
--     the mean is exactly (last_award_at - first_award_at) / (awards - 1), ties included.
--
-- Built from fct_points_user_task (same run): a task's awards, players, points, first and
-- last award are the sums, count, min and max over its players' rows.
-- Incremental: a run recomputes every (brand, game, task) that received an award since the
-- last run (whatever its lateness), and only those.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['brand_id', 'game_id', 'task_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['brand_id', 'game_id', 'task_id'], 'unique': true},
        ],
        post_hook="{{ record_batch_watermark() }}",
    )
}}

{% set watermark = batch_watermark() %}

with

user_tasks as (

    select * from {{ ref('fct_points_user_task') }}

),

awards as (

    -- only to find the tasks touched since the last run
    select * from {{ ref('int_points_awards') }}

),

{% if is_incremental() %}
touched_tasks as (

    select distinct brand_id, game_id, task_id
    from awards
    where batch_id > {{ watermark }}

),
{% endif %}

scoped as (

    select user_tasks.*
    from user_tasks
    {% if is_incremental() %}
    inner join touched_tasks using (brand_id, game_id, task_id)
    {% endif %}

),

per_task as (

    select
        brand_id,
        game_id,
        task_id,
        sum(awards)::bigint as awards,
        count(*) as players,
        sum(total_points)::bigint as total_points,
        min(first_award_at) as first_award_at,
        max(last_award_at) as last_award_at

    from scoped
    group by brand_id, game_id, task_id

),

final as (

    select
        brand_id,
        game_id,
        task_id,
        awards,
        players,
        total_points,
        -- trim_scale: the exact value without trailing zeros (600, not 600.0000000000000000)
        trim_scale(case
            when awards >= 2
                then extract(epoch from last_award_at - first_award_at) / (awards - 1)
            else -1
        end) as avg_seconds_between_awards

    from per_task

)

select * from final
