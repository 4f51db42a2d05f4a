-- Grain: one row per landed copy of a wallet.debit or wallet.credit event (batch_id, line_no).
with

events as (

    select * from {{ ref('stg_events') }}
    where event_type in ('wallet.debit', 'wallet.credit')

),

final as (

    select
        {{ envelope_columns() }},
        case event_type when 'wallet.credit' then 'credit' else 'debit' end as direction,
        {{ json_bigint('payload', 'amount_minor') }} as amount_minor,
        {{ json_text('payload', 'currency') }} as currency,
        {{ json_text('payload', 'reason') }} as reason,
        {{ json_text('payload', 'reference_id') }} as reference_id

    from events

)

select * from final
