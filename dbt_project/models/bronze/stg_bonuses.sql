-- Grain: one row per landed copy of a bonus.issued or bonus.consumed event (batch_id, line_no).
with

events as (

    select * from {{ ref('stg_events') }}
    where event_type in ('bonus.issued', 'bonus.consumed')

),

final as (

    select
        {{ envelope_columns() }},
        {{ json_text('payload', 'bonus_id') }} as bonus_id,
        {{ json_bigint('payload', 'amount_minor') }} as amount_minor,
        {{ json_text('payload', 'currency') }} as currency

    from events

)

select * from final
