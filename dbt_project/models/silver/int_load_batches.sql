-- Grain: one row per landed batch (file) that this and earlier runs have taken in.
-- Built first in every run: its max(batch_id) is the run's horizon (see macros/watermarks.sql).
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
        finished_at as landed_at

    from batches

)

select * from final
