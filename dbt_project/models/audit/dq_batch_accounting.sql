-- Grain: one row per landed batch (batch_id): every line read is landed, quarantined or blank,
-- and every landed copy is the first copy of its event or a duplicate.
with

batches as (

    select * from {{ source('raw', 'load_batches') }}

),

first_copies as (

    select
        batch_id,
        count(*) as first_copies
    from {{ ref('int_events') }}
    group by batch_id

),

final as (

    select
        batches.batch_id,
        batches.file_name,
        batches.sha256,
        batches.lines_read,
        batches.events_landed,
        batches.lines_quarantined,
        batches.blank_lines,
        coalesce(first_copies.first_copies, 0) as first_copies,
        batches.events_landed - coalesce(first_copies.first_copies, 0) as duplicate_copies,
        batches.lines_read = batches.events_landed + batches.lines_quarantined + batches.blank_lines
            as is_balanced,
        batches.started_at,
        batches.finished_at

    from batches
    left join first_copies using (batch_id)

)

select * from final
