-- Grain: one row per event_type not in the catalog (perhaps a newer producer): how many
-- deduplicated events and when. Such events never reach the marts.
with

events as (

    select * from {{ ref('int_events') }}
    where not is_known_type

),

final as (

    select
        event_type,
        count(*) as events,
        count(distinct brand_id) as brands,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at,
        min(batch_id) as first_batch_id,
        max(batch_id) as last_batch_id

    from events
    group by event_type

)

select * from final
