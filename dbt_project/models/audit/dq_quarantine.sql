-- Grain: one row per quarantined line (batch_id, line_no): lines that failed the envelope
-- rules and never reached raw.events.
with

quarantined as (

    select * from {{ source('raw', 'quarantine') }}

),

batches as (

    select * from {{ source('raw', 'load_batches') }}

),

final as (

    select
        quarantined.batch_id,
        quarantined.line_no,
        quarantined.source_file,
        batches.file_name,
        quarantined.field,
        quarantined.reason,
        quarantined.raw_line,
        quarantined.quarantined_at

    from quarantined
    left join batches using (batch_id)

)

select * from final
