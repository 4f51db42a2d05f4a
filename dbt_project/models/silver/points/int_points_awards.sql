-- Grain: one row per award (event_id): the deduplicated, valid points.awarded events, first
-- landed copy (docs/points.md). A task is (game_id, task_id); everything is per brand.
--
-- Incremental by batch (append): the batches above the highest one already here, up to the
-- run's horizon; nothing is dropped for being late.
--
-- The index (brand_id, game_id, task_id, player_id, awarded_at, event_id) serves the
-- original service's query-time windows ("awards of this player on this task in the last N
-- seconds", "the ordered award timestamps") and the gold marts' per-key timelines, in the
-- order docs/points.md defines (time, then event_id for ties).
{{
    config(
        unique_key='event_id',
        incremental_strategy='append',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['brand_id', 'game_id', 'task_id', 'player_id', 'awarded_at',
                         'event_id']},
            {'columns': ['batch_id']},
        ],
    )
}}

with

first_copies as (

    {{ valid_first_copies(['points.awarded'], ['game_id', 'task_id', 'points', 'minutes']) }}

),

final as (

    select
        event_id,
        brand_id,
        game_id,
        task_id,
        player_id,
        occurred_at as awarded_at,
        event_date as award_date,
        points,
        minutes,
        region,
        batch_id

    from first_copies

)

select * from final
