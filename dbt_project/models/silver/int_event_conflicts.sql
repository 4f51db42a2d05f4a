-- Grain: one row per landed copy (batch_id, line_no) whose event_id was already taken from an
-- earlier copy with different content. Delivery metadata (ingested_at, trace_id) may differ
-- between redeliveries and is not content.
{{
    config(
        unique_key=['batch_id', 'line_no'],
        incremental_strategy='append',
        pre_hook="set local work_mem = '{{ var('dedup_work_mem') }}'",
        post_hook="{{ record_batch_watermark() }}",
    )
}}

with

copies as (

    select * from {{ ref('stg_events') }}
    where batch_id <= {{ batch_horizon() }}
        and batch_id > {{ batch_watermark() }}

),

first_copies as (

    -- narrow on purpose: the hash join below then holds keys, not payloads
    select event_id, batch_id as first_batch_id, line_no as first_line_no
    from {{ ref('int_events') }}

),

later_copies as (

    select copies.*, first_copies.first_batch_id, first_copies.first_line_no
    from copies
    inner join first_copies using (event_id)
    where (copies.batch_id, copies.line_no)
        <> (first_copies.first_batch_id, first_copies.first_line_no)

),

compared as (

    select
        later_copies.batch_id,
        later_copies.line_no,
        later_copies.event_id,
        later_copies.first_batch_id,
        later_copies.first_line_no,
        array_remove(array[
            case when later_copies.event_type is distinct from winners.event_type
                then 'event_type' end,
            case when later_copies.occurred_at is distinct from winners.occurred_at
                then 'occurred_at' end,
            case when later_copies.brand_id is distinct from winners.brand_id
                then 'tenant_id' end,
            case when later_copies.region is distinct from winners.region then 'region' end,
            case when later_copies.player_id is distinct from winners.player_id
                then 'player_id' end,
            case when later_copies.schema_version is distinct from winners.schema_version
                then 'schema_version' end,
            case when later_copies.payload is distinct from winners.payload then 'payload' end
        ], null) as differing_fields,
        later_copies.event_type,
        later_copies.payload,
        winners.event_type as first_event_type,
        winners.payload as first_payload

    -- the later copies are few (duplicates): their first copies come through the index
    from later_copies
    inner join {{ ref('int_events') }} as winners
        on winners.event_id = later_copies.event_id

),

final as (

    select * from compared
    where cardinality(differing_fields) > 0

)

select * from final
