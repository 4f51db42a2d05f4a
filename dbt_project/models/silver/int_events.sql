-- Grain: one row per event_id. The first landed copy wins: lowest (batch_id, line_no).
--
-- Incremental by batch: a run takes the batches above the highest one already here (up to
-- the run's horizon) and keeps the event ids not seen before. Nothing is filtered by event
-- time, so an event is taken however late it lands; `lateness_seconds` records how late it
-- was, measured against the data: how far its occurred_at lies before the newest occurred_at
-- of the events landed in earlier batches. The payload contract (macros/payload_contract.sql)
-- is evaluated here, once per event: `invalid_reason` is NULL for a valid payload.
{{
    config(
        unique_key='event_id',
        incremental_strategy='append',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['event_type', 'batch_id']},
            {'columns': ['batch_id']},
        ],
    )
}}

with

landed as (

    select * from {{ ref('stg_events') }}
    where batch_id <= {{ batch_horizon() }}
    {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
    {% endif %}

),

first_copies as (

    select distinct on (event_id) *
    from landed
    order by event_id, batch_id, line_no

),

new_events as (

    select first_copies.*
    from first_copies
    {% if is_incremental() %}
        where not exists (
            select 1 from {{ this }} as seen
            where seen.event_id = first_copies.event_id
        )
    {% endif %}

),

batch_newest as (

    select
        batch_id,
        max(occurred_at) as newest_occurred_at
    from new_events
    group by batch_id

),

processed_before as (

    -- newest occurred_at among events of earlier batches (greatest() ignores nulls)
    select
        batch_id,
        greatest(
            max(newest_occurred_at) over (
                order by batch_id rows between unbounded preceding and 1 preceding
            ),
            {% if is_incremental() %}
                (select max(occurred_at) from {{ this }})
            {% else %}
                null::timestamptz
            {% endif %}
        ) as newest_processed_at
    from batch_newest

),

final as (

    select
        new_events.event_id,
        new_events.event_type,
        new_events.occurred_at,
        (new_events.occurred_at at time zone 'UTC')::date as event_date,
        new_events.ingested_at,
        new_events.brand_id,
        new_events.region,
        new_events.player_id,
        new_events.trace_id,
        new_events.schema_version,
        new_events.payload,
        new_events.batch_id,
        new_events.line_no,
        new_events.loaded_at,
        {{ payload_invalid_reason('new_events.payload', 'new_events.event_type') }}
            as invalid_reason,
        new_events.event_type in {{ known_event_types() }} as is_known_type,
        coalesce(
            greatest(
                floor(extract(epoch from processed_before.newest_processed_at
                    - new_events.occurred_at)),
                0
            ),
            0
        )::bigint as lateness_seconds

    from new_events
    inner join processed_before using (batch_id)

)

select * from final
