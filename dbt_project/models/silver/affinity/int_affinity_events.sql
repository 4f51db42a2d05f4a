-- Grain: one row per event_id: the deduplicated, valid inputs of the affinity replay
-- (device.bound, device.unbound, affinity.triggered, affinity.admin_adjust), first landed copy.
--
-- Incremental by batch (append): the batches above the highest one already here, up to the
-- run's horizon. `event_id` is kept in the "C" collation: with occurred_at it is the replay
-- order, and byte order makes that order the same on every database.
{{
    config(
        unique_key='event_id',
        incremental_strategy='append',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['brand_id', 'device_id', 'occurred_at', 'event_id']},
            {'columns': ['batch_id']},
        ],
    )
}}

with

first_copies as (

    {{ valid_first_copies(
        ['device.bound', 'device.unbound', 'affinity.triggered', 'affinity.admin_adjust'],
        ['device_id', 'rule_key', 'change', 'delta', 'source', 'operator_admin_id', 'reason'])
    }}

),

final as (

    select
        event_id collate "C" as event_id,
        event_type,
        occurred_at,
        brand_id,
        region,
        player_id,
        device_id,
        rule_key,
        -- the producer's requested change (triggered) or the operator's delta (admin_adjust)
        coalesce(change, delta) as requested_change,
        source,
        operator_admin_id,
        reason as admin_reason,
        batch_id,
        line_no

    from first_copies

)

select * from final
