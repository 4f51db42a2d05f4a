-- Grain: one row per landed copy (batch_id, line_no) that repeats an earlier event_id with
-- different content; the first landed copy is the one the marts use.
with

conflicts as (

    select * from {{ ref('int_event_conflicts') }}

),

final as (

    select
        event_id,
        batch_id,
        line_no,
        first_batch_id,
        first_line_no,
        differing_fields,
        event_type,
        first_event_type,
        payload,
        first_payload

    from conflicts

)

select * from final
