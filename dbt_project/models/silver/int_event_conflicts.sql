-- Grain: one row per landed copy (batch_id, line_no) whose event_id was already taken from an
-- earlier copy with different content. Delivery metadata (ingested_at, trace_id) may differ
-- between redeliveries and is not content.
{{
    config(
        unique_key=['batch_id', 'line_no'],
        incremental_strategy='append',
        post_hook="{{ record_batch_watermark() }}",
    )
}}

with

copies as (

    select * from {{ ref('stg_events') }}
    where batch_id <= {{ batch_horizon() }}
        and batch_id > {{ batch_watermark() }}

),

winners as (

    select * from {{ ref('int_events') }}

),

compared as (

    select
        copies.batch_id,
        copies.line_no,
        copies.event_id,
        winners.batch_id as first_batch_id,
        winners.line_no as first_line_no,
        array_remove(array[
            case when copies.event_type is distinct from winners.event_type then 'event_type' end,
            case when copies.occurred_at is distinct from winners.occurred_at then 'occurred_at' end,
            case when copies.brand_id is distinct from winners.brand_id then 'tenant_id' end,
            case when copies.region is distinct from winners.region then 'region' end,
            case when copies.player_id is distinct from winners.player_id then 'player_id' end,
            case when copies.schema_version is distinct from winners.schema_version
                then 'schema_version' end,
            case when copies.payload is distinct from winners.payload then 'payload' end
        ], null) as differing_fields,
        copies.event_type,
        copies.payload,
        winners.event_type as first_event_type,
        winners.payload as first_payload

    from copies
    inner join winners
        on copies.event_id = winners.event_id
        and (copies.batch_id, copies.line_no) <> (winners.batch_id, winners.line_no)

),

final as (

    select * from compared
    where cardinality(differing_fields) > 0

)

select * from final
