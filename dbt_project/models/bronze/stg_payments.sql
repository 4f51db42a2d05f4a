-- Grain: one row per landed copy of a payment.* event (batch_id, line_no).
with

events as (

    select * from {{ ref('stg_events') }}
    where event_type in
        ('payment.intent', 'payment.authorized', 'payment.captured', 'payment.failed')

),

final as (

    select
        {{ envelope_columns() }},
        {{ json_text('payload', 'payment_id') }} as payment_id,
        {{ json_bigint('payload', 'amount_minor') }} as amount_minor,
        {{ json_text('payload', 'currency') }} as currency,
        {{ json_text('payload', 'method') }} as method,
        -- fee_minor is optional and defaults to 0 on a capture (docs/input-contract.md)
        case
            when event_type = 'payment.captured'
                then coalesce({{ json_bigint('payload', 'fee_minor') }}, 0)
        end as fee_minor,
        {{ json_text('payload', 'error_code') }} as error_code

    from events

)

select * from final
