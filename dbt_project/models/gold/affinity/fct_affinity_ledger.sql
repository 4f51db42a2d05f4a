-- Grain: one row per affinity event (event_id): what was asked, what was applied and why.
-- The replay itself lives in silver (int_affinity_ledger); this mart publishes its rows.
-- Incremental (delete+insert on event_id): the rows silver (re)wrote since the last run, so a
-- device replayed because of a late event has all its rows replaced.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['brand_id', 'device_id', 'occurred_at']},
        ],
        post_hook="{{ record_batch_watermark() }}",
    )
}}

with

ledger as (

    select * from {{ ref('int_affinity_ledger') }}
    {% if is_incremental() %}
    where replay_batch_id > {{ batch_watermark() }}
    {% endif %}

),

final as (

    select
        event_id::text as event_id,
        occurred_at,
        brand_id,
        player_id,
        device_id,
        rule_key,
        source,
        outcome,
        requested_change,
        applied_change,
        before_value,
        after_value,
        old_level,
        new_level,
        event_type,
        local_date,
        operator_admin_id,
        admin_reason

    from ledger

)

select * from final
