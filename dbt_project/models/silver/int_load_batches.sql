-- Grain: one row per landed batch (file) that this and earlier runs have taken in.
-- Built first in every run: its max(batch_id) is the run's horizon (see macros/watermarks.sql).
-- `newest_occurred_at` is the newest event time landed in the batch, and
-- `newest_occurred_before` the newest of all earlier batches: the baseline against which the
-- lateness of the batch's events is measured on the data, not the clock (docs/input-contract.md).
{{ config(unique_key='batch_id', incremental_strategy='append') }}

with

batches as (

    select * from {{ source('raw', 'load_batches') }}
    -- a batch's row is visible only once its transaction committed, with all its counts
    where finished_at is not null
        {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}

),

newest_per_batch as (

    select
        batch_id,
        max(occurred_at) as newest_occurred_at
    from {{ ref('stg_events') }}
    where batch_id in (select batch_id from batches)
    group by batch_id

),

with_baseline as (

    select
        batches.*,
        newest_per_batch.newest_occurred_at,
        greatest(
            max(newest_per_batch.newest_occurred_at) over (
                order by batches.batch_id rows between unbounded preceding and 1 preceding
            ),
            {% if is_incremental() %}
            (select max(newest_occurred_at) from {{ this }})
            {% else %}
            null::timestamptz
            {% endif %}
        ) as newest_occurred_before
    from batches
    left join newest_per_batch using (batch_id)

),

final as (

    select
        batch_id,
        file_name,
        source_path,
        sha256,
        lines_read,
        events_landed,
        lines_quarantined,
        blank_lines,
        finished_at as landed_at,
        newest_occurred_at,
        newest_occurred_before

    from with_baseline

)

select * from final
