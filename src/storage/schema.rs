// The tables as diesel sees them. The schema's history is in migrations/{sqlite,postgres};
// keep this file in step with both.

diesel::table! {
    gateway_instances (instance_id) {
        instance_id -> Text,
        hostname -> Text,
        version -> Text,
        first_started_at_ms -> BigInt,
        last_started_at_ms -> BigInt,
    }
}

diesel::table! {
    disclosure_records (instance_id, seq) {
        instance_id -> Text,
        seq -> BigInt,
        trace_id -> Binary,
        operation_id -> Binary,
        parent_operation_id -> Nullable<Binary>,
        foreign_trace_id -> Nullable<Binary>,
        foreign_operation_id -> Nullable<Binary>,
        foreign_entity -> Nullable<Text>,
        name -> Text,
        start_time_ms -> BigInt,
        end_time_ms -> BigInt,
        status -> Text,
        refusal_code -> Nullable<Text>,
        processing_activity_id -> Nullable<Text>,
        register_version -> Nullable<Text>,
        requester_oin -> Nullable<Text>,
        provider_oin -> Nullable<Text>,
        case_reference -> Nullable<Text>,
        fields -> Text,
        record_count -> Integer,
        subject_pseudonym -> Nullable<Binary>,
        retain_until_ms -> BigInt,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::table! {
    disclosure_checkpoints (instance_id, seq, kind) {
        instance_id -> Text,
        seq -> BigInt,
        kind -> Text,
        head_hash -> Binary,
        first_seq -> BigInt,
        first_prev_hash -> Binary,
        created_at_ms -> BigInt,
        public_key -> Binary,
        signature -> Binary,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    gateway_instances,
    disclosure_records,
    disclosure_checkpoints
);

diesel::table! {
    rni_personen (burgerservicenummer) {
        burgerservicenummer -> Text,
        voornamen -> Text,
        voorvoegsel -> Nullable<Text>,
        geslachtsnaam -> Text,
        geslacht -> Text,
        geboortedatum -> Text,
        geboorteplaats -> Text,
        geboorteland_code -> Text,
        nationaliteit_code -> Text,
        buitenland_adresregel1 -> Text,
        buitenland_adresregel2 -> Text,
        buitenland_land_code -> Text,
        verblijf_straat -> Nullable<Text>,
        verblijf_huisnummer -> Nullable<Integer>,
        verblijf_huisletter -> Nullable<Text>,
        verblijf_toevoeging -> Nullable<Text>,
        verblijf_postcode -> Nullable<Text>,
        verblijf_woonplaats -> Nullable<Text>,
        verblijf_gemeentecode -> Nullable<Text>,
        verblijf_datum_aanvang -> Nullable<Text>,
        telefoonnummer -> Nullable<Text>,
        emailadres -> Nullable<Text>,
        datum_inschrijving -> Text,
        rni_deelnemer_code -> Text,
    }
}

diesel::table! {
    postcodegebieden (pc4) {
        pc4 -> Text,
        gemeentecode -> Text,
    }
}

diesel::table! {
    rni_verblijfsadres_historie (burgerservicenummer, volgnummer) {
        burgerservicenummer -> Text,
        volgnummer -> Integer,
        verblijf_straat -> Nullable<Text>,
        verblijf_huisnummer -> Nullable<Integer>,
        verblijf_huisletter -> Nullable<Text>,
        verblijf_toevoeging -> Nullable<Text>,
        verblijf_postcode -> Nullable<Text>,
        verblijf_woonplaats -> Nullable<Text>,
        verblijf_gemeentecode -> Nullable<Text>,
        verblijf_datum_aanvang -> Nullable<Text>,
        gewijzigd_op_ms -> BigInt,
        gewijzigd_door_oin -> Text,
        disclosure_id -> Text,
    }
}

diesel::table! {
    signalen (id) {
        id -> Text,
        activiteit -> Text,
        soort -> Text,
        afzender_oin -> Text,
        ontvanger_oin -> Text,
        omschrijving -> Text,
        urgent -> Bool,
        adres_postcode -> Nullable<Text>,
        adres_huisnummer -> Nullable<Integer>,
        adres_huisletter -> Nullable<Text>,
        adres_huisnummertoevoeging -> Nullable<Text>,
        werkgever_loonheffingennummer -> Nullable<Text>,
        werkgever_kvk_nummer -> Nullable<Text>,
        werkgever_naam -> Nullable<Text>,
        aantal_inschrijvingen -> Nullable<Integer>,
        status -> Text,
        statusvolgnummer -> Integer,
        ontvangen_ms -> BigInt,
    }
}

diesel::table! {
    signaal_betrokkenen (signaal_id, volgnummer) {
        signaal_id -> Text,
        volgnummer -> Integer,
        burgerservicenummer -> Text,
    }
}

diesel::table! {
    signaal_statussen (signaal_id, volgnummer) {
        signaal_id -> Text,
        volgnummer -> Integer,
        status -> Text,
        reden -> Nullable<Text>,
        uitkomst -> Nullable<Text>,
        tijdstip_ms -> BigInt,
        door_oin -> Text,
    }
}

diesel::joinable!(signaal_betrokkenen -> signalen (signaal_id));
diesel::joinable!(signaal_statussen -> signalen (signaal_id));
diesel::allow_tables_to_appear_in_same_query!(signalen, signaal_betrokkenen, signaal_statussen);
diesel::allow_tables_to_appear_in_same_query!(postcodegebieden, rni_personen);

diesel::table! {
    uwv_werkgevers (loonheffingennummer) {
        loonheffingennummer -> Text,
        naam -> Text,
        kvk_nummer -> Text,
        uitzendbureau -> Bool,
    }
}

diesel::table! {
    uwv_dienstverbanden (id) {
        id -> BigInt,
        burgerservicenummer -> Text,
        loonheffingennummer -> Text,
        datum_aanvang -> Text,
        datum_einde -> Nullable<Text>,
        uren_per_week -> Integer,
        sv_loon_per_maand_cent -> BigInt,
        soort_arbeidsrelatie -> Text,
    }
}

diesel::table! {
    uwv_uitkeringen (burgerservicenummer, soort, datum_ingang) {
        burgerservicenummer -> Text,
        soort -> Text,
        datum_ingang -> Text,
        datum_einde -> Nullable<Text>,
    }
}

diesel::table! {
    svb_uitkeringen (burgerservicenummer, soort, datum_ingang) {
        burgerservicenummer -> Text,
        soort -> Text,
        datum_ingang -> Text,
        datum_einde -> Nullable<Text>,
    }
}

diesel::table! {
    svb_a1_verklaringen (burgerservicenummer, datum_ingang) {
        burgerservicenummer -> Text,
        lidstaat -> Text,
        werkgever_naam -> Text,
        datum_ingang -> Text,
        datum_einde -> Text,
    }
}

diesel::table! {
    ingezetenen (burgerservicenummer) {
        burgerservicenummer -> Text,
        gemeentecode -> Text,
    }
}

diesel::joinable!(uwv_dienstverbanden -> uwv_werkgevers (loonheffingennummer));
diesel::allow_tables_to_appear_in_same_query!(uwv_dienstverbanden, uwv_werkgevers);

diesel::table! {
    register_versies (version) {
        version -> Text,
        loaded_at_ms -> BigInt,
        content -> Text,
    }
}
