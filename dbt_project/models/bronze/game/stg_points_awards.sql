-- Grain: one row per landed copy (batch_id, line_no) of a points.awarded event (docs/points.md).
with

events as (

    select * from {{ ref('stg_events') }}
    where event_type = 'points.awarded'

),

final as (

    select
        {{ envelope_columns() }},
        {{ json_text('payload', 'game_id') }} as game_id,
        {{ json_text('payload', 'task_id') }} as task_id,
        {{ json_bigint('payload', 'points') }} as points,
        {{ json_numeric('payload', 'minutes') }} as minutes

    from events

)

select * from final
