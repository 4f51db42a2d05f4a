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

copy_ids as (

    -- a second, narrow import of the same copies: a CTE referenced twice is materialized in
    -- full, and this one then holds event ids, not payloads
    select event_id from {{ ref('stg_events') }}
    where batch_id <= {{ batch_horizon() }}
        and batch_id > {{ batch_watermark() }}

),

repeated_ids as (

    -- The event ids of this run's copies that have another copy: twice among this run's
    -- copies, or first landed in an earlier batch. Duplicates are few, so this narrow pass
    -- spares the wide copies a join with every first copy.
    select event_id
    from copy_ids
    group by event_id
    having count(*) > 1

    {% if is_incremental() %}
    union

    select copy_ids.event_id
    from copy_ids
    inner join {{ ref('int_events') }} as first_copies using (event_id)
    where first_copies.batch_id <= {{ batch_watermark() }}
    {% endif %}

),

later_copies as (

    select copies.*
    from copies
    inner join repeated_ids using (event_id)

),

compared as (

    select
        later_copies.batch_id,
        later_copies.line_no,
        later_copies.event_id,
        winners.batch_id as first_batch_id,
        winners.line_no as first_line_no,
        array_remove(array[
            case
                when later_copies.event_type is distinct from winners.event_type
                    then 'event_type'
            end,
            case
                when later_copies.occurred_at is distinct from winners.occurred_at
                    then 'occurred_at'
            end,
            case
                when later_copies.brand_id is distinct from winners.brand_id
                    then 'tenant_id'
            end,
            case when later_copies.region is distinct from winners.region then 'region' end,
            case
                when later_copies.player_id is distinct from winners.player_id
                    then 'player_id'
            end,
            case
                when later_copies.schema_version is distinct from winners.schema_version
                    then 'schema_version'
            end,
            case when later_copies.payload is distinct from winners.payload then 'payload' end
        ], null) as differing_fields,
        later_copies.event_type,
        later_copies.payload,
        winners.event_type as first_event_type,
        winners.payload as first_payload

    -- the copies of repeated ids are few: their first copies come through the index; the
    -- first copy itself is not a later copy
    from later_copies
    inner join {{ ref('int_events') }} as winners
        on winners.event_id = later_copies.event_id
        and (winners.batch_id, winners.line_no) <> (later_copies.batch_id, later_copies.line_no)

),

final as (

    select * from compared
    where cardinality(differing_fields) > 0

)

select * from final
