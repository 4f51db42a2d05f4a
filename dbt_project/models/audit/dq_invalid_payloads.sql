-- Grain: one row per deduplicated event of a known type whose payload breaks the contract
-- (event_id). These events are kept out of every mart.
with

events as (

    select * from {{ ref('int_events') }}

),

final as (

    select
        event_id,
        event_type,
        occurred_at,
        brand_id,
        player_id,
        invalid_reason,
        payload,
        batch_id,
        line_no

    from events
    where is_known_type
        and invalid_reason is not null

)

select * from final
