-- Grain: one row per landed copy of an event, (batch_id, line_no).
with

landed as (

    select * from {{ source('raw', 'events') }}

),

final as (

    select
        batch_id,
        line_no,
        event_id,
        event_type,
        occurred_at,
        ingested_at,
        tenant_id as brand_id,
        region,
        player_id,
        trace_id,
        schema_version,
        payload,
        loaded_at

    from landed

)

select * from final
